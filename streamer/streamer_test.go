package streamer

import (
	"context"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/timing"
)

func TestStreamSweepEndToEnd(t *testing.T) {
	s, err := netpipe.NewServer(context.Background(), netpipe.ServerOptions{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snd, err := Dial(context.Background(), netpipe.Options{Addr: s.Addr(), Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	sizes, _ := timing.NetPIPESizes(1, 1*timing.MiB, 0)
	series, err := timing.Sweep(context.Background(), snd, timing.Options{Sizes: sizes, TrialTime: 2 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(series.Points) != len(sizes) {
		t.Fatalf("%d points, want %d", len(series.Points), len(sizes))
	}
	for _, p := range series.Points {
		if p.Min <= 0 || p.Quantiles != nil {
			t.Errorf("size %d: min %v, quantiles %v (a stream times batches, not single messages)", p.Bytes, p.Min, p.Quantiles)
		}
	}
	// One-way messages of 1 MiB move faster per byte than 1-byte ones.
	first, last := series.Points[0], series.Points[len(series.Points)-1]
	if last.Rate() <= first.Rate() {
		t.Errorf("rate at 1 MiB %v not above rate at 1 B %v", last.Rate(), first.Rate())
	}
	if s.Errors() != 0 {
		t.Errorf("receiver counted %d errors", s.Errors())
	}
}
