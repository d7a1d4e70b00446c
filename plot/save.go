package plot

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/lvsperf/lvsperf/results"
)

// PNGDPI is the resolution of PNG figures: 8 × 5 in gives 960 × 600 pixels.
const PNGDPI = 120

// Image formats.
const (
	PNG = "png"
	SVG = "svg"
)

// Encode writes p as a DefaultWidth × DefaultHeight image in format (png
// or svg).
func Encode(w io.Writer, p *Chart, format string) error {
	var c interface {
		vg.CanvasSizer
		io.WriterTo
	}
	switch format {
	case PNG:
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(DefaultWidth, DefaultHeight), vgimg.UseDPI(PNGDPI))}
	case SVG:
		c = vgsvg.New(DefaultWidth, DefaultHeight)
	default:
		return fmt.Errorf("image format %q: want %s or %s", format, PNG, SVG)
	}
	p.Draw(draw.New(c))
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("write %s figure: %w", format, err)
	}
	return nil
}

// Save writes p to path in the format its extension names (.png or .svg),
// atomically.
func Save(path string, p *Chart) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	var b bytes.Buffer
	if err := Encode(&b, p, format); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return results.WriteFileAtomic(path, b.Bytes())
}

// WriteAll draws every figure of series into dir as <base>-<figure>.<format>
// for each format (default png and svg), and writes the gnuplot data files
// and script (<base>.gp, see Gnuplot). It returns the files written.
func WriteAll(dir, base string, series []results.Series, formats ...string) ([]string, error) {
	if len(formats) == 0 {
		formats = []string{PNG, SVG}
	}
	for _, f := range formats {
		if f != PNG && f != SVG {
			return nil, fmt.Errorf("image format %q: want %s or %s", f, PNG, SVG)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plots: %w", err)
	}
	var files []string
	for _, fig := range FiguresFor(series) {
		p, err := Draw(fig, series)
		if err != nil {
			return files, fmt.Errorf("%s plot: %w", fig, err)
		}
		for _, f := range formats {
			path := filepath.Join(dir, base+"-"+string(fig)+"."+f)
			if err := Save(path, p); err != nil {
				return files, err
			}
			files = append(files, path)
		}
	}
	gp, err := Gnuplot(dir, base, series...)
	files = append(files, gp...)
	return files, err
}

// FromRuns gathers the series of several runs for one figure. When there is
// more than one run, each label is prefixed with its run's name (names[i],
// typically the file it was loaded from, else the run's probe) so the
// legend tells them apart.
func FromRuns(names []string, runs []*results.Run) []results.Series {
	var out []results.Series
	for i, r := range runs {
		name := r.Probe
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		for j, s := range r.Series {
			if s.Path == "" {
				s.Path = r.Path
			}
			if len(runs) > 1 {
				s.Label = name + ": " + Label(s, j)
			}
			out = append(out, s)
		}
	}
	return out
}
