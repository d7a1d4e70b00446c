package streamer

import (
	"context"
	"time"

	"github.com/lvsperf/lvsperf/netpipe"
	"github.com/lvsperf/lvsperf/runner"
	"github.com/lvsperf/lvsperf/timing"
)

// Sender streams messages to a netpipe receiver. It implements timing.Probe:
// a batch of k messages is one stream whose time is the receiver's, from the
// first byte to the last, so single messages are not timed one by one.
type Sender struct {
	t *netpipe.Transmitter
}

// Dial connects a sender to the receiver at opts.Addr.
func Dial(ctx context.Context, opts netpipe.Options) (*Sender, error) {
	t, err := netpipe.Dial(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Sender{t: t}, nil
}

// Run streams len(each) messages of n bytes; each is left alone.
func (s *Sender) Run(ctx context.Context, n timing.Bytes, each []time.Duration) (timing.Batch, error) {
	d, err := s.t.Stream(ctx, n, len(each))
	if err != nil {
		return timing.Batch{}, err
	}
	return timing.Batch{Total: d}, nil
}

// Info reports the socket options in effect on the sender's side.
func (s *Sender) Info() map[string]string { return s.t.Info() }

// Close ends the stream session.
func (s *Sender) Close() error { return s.t.Close() }

// DialProbe connects a stream sender; it is the stream dialer for
// netpipe.RunOptions.Config.
func DialProbe(ctx context.Context, opts netpipe.Options) (runner.Probe, error) {
	return Dial(ctx, opts)
}
