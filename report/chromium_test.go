package report_test

import (
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsperf/lvsperf/report"
)

// TestChromiumRendersTheReport opens the fixture report in headless
// Chromium (Debian's chromium) and checks the screenshot shows the plots:
// the series' red and green lines are drawn from the embedded PNGs, which
// a page whose images failed to load would not have.
func TestChromiumRendersTheReport(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is missing: apt-get install -y chromium")
		}
		t.Skip("chromium not installed (apt-get install -y chromium)")
	}
	rep, err := report.Build("", "r", fixture()[:1])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "r.html")
	if _, err := rep.WriteFiles(page); err != nil {
		t.Fatal(err)
	}
	// The desktop width and a phone's: the plots must render at both (on a
	// phone the figures keep 640 px and scroll in their own box).
	for _, width := range []int{1280, 390} {
		t.Run(fmt.Sprint(width), func(t *testing.T) { checkShot(t, bin, dir, page, width) })
	}
}

func checkShot(t *testing.T, bin, dir, page string, width int) {
	shot := filepath.Join(dir, fmt.Sprintf("shot-%d.png", width))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot, fmt.Sprintf("--window-size=%d,2000", width), "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if w := img.Bounds().Dx(); w != width {
		t.Errorf("screenshot %d px wide, want %d", w, width)
	}
	// plot draws the first series red and the second green; count pixels
	// of each (the page's own styles have neither).
	var red, green int
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			r, g, b = r>>8, g>>8, b>>8
			switch {
			case r > 180 && g < 80 && b < 80:
				red++
			case g > 100 && r < 60 && b < 120:
				green++
			}
		}
	}
	if red < 100 || green < 100 {
		t.Errorf("screenshot has %d red and %d green plot pixels: the embedded figures did not render", red, green)
	}
}
