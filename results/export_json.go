package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/lvsperf/lvsperf/timing"
)

// EncodeJSON writes r as one indented JSON document: the whole run, fits
// included, under the field names of the json tags. A rate the fit could
// not bound (+Inf) is written as the string "+Inf", since JSON has no
// infinity. DecodeJSON reads it back.
func EncodeJSON(w io.Writer, r *Run) error { return encodeJSON(w, r, nil) }

func encodeJSON(w io.Writer, r *Run, headline []string) error {
	jr := jsonRun{Run: *r, Headline: headline}
	jr.Format, jr.Schema = Format, Schema
	if r.Series != nil {
		jr.Series = make([]jsonSeries, len(r.Series))
	}
	for i, s := range r.Series {
		jr.Series[i] = jsonSeries{Series: s}
		if s.Fit != nil {
			f := *s.Fit
			jr.Series[i].Fit = &jsonFit{
				Fit:       f,
				MaxRate:   jsonFloat(f.MaxRate),
				MaxRateCI: [2]jsonFloat{jsonFloat(f.MaxRateCI[0]), jsonFloat(f.MaxRateCI[1])},
				PeakRate:  jsonFloat(f.PeakRate),
				R2:        jsonFloat(f.R2),
				RelRMS:    jsonFloat(f.RelRMS),
			}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&jr); err != nil {
		return fmt.Errorf("encode run as JSON: %w", err)
	}
	return nil
}

// DecodeJSON reads a run written by EncodeJSON. Like Decode, it refuses
// input that is not an lvsperf run or comes from a newer schema.
func DecodeJSON(r io.Reader) (*Run, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read JSON run: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: larger than %d MiB", ErrNotRun, maxFileSize>>20)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: the JSON input is empty", ErrNotRun)
	}
	var h struct {
		Format string `json:"format"`
		Schema int    `json:"schema"`
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("%w: not a JSON run record: %w", ErrNotRun, err)
	}
	if h.Format != Format {
		return nil, fmt.Errorf("%w: JSON format field is %q, want %q", ErrNotRun, h.Format, Format)
	}
	if h.Schema > Schema {
		return nil, fmt.Errorf("%w: schema %d, this build reads up to %d; use a newer lvsperf", ErrNewerSchema, h.Schema, Schema)
	}
	if h.Schema < 1 {
		return nil, fmt.Errorf("%w: schema %d is not valid", ErrNotRun, h.Schema)
	}
	var jr jsonRun
	if err := json.Unmarshal(data, &jr); err != nil {
		return nil, fmt.Errorf("%w: corrupt JSON run record: %w", ErrNotRun, err)
	}
	run := jr.Run
	run.Series = nil
	if jr.Series != nil {
		run.Series = make([]Series, len(jr.Series))
	}
	for i, js := range jr.Series {
		s := js.Series
		s.Fit = nil
		if js.Fit != nil {
			f := js.Fit.Fit
			f.MaxRate = timing.BitsPerSecond(js.Fit.MaxRate)
			f.MaxRateCI = [2]timing.BitsPerSecond{timing.BitsPerSecond(js.Fit.MaxRateCI[0]), timing.BitsPerSecond(js.Fit.MaxRateCI[1])}
			f.PeakRate = timing.BitsPerSecond(js.Fit.PeakRate)
			f.R2, f.RelRMS = float64(js.Fit.R2), float64(js.Fit.RelRMS)
			s.Fit = &f
		}
		run.Series[i] = s
	}
	return &run, nil
}

// jsonRun shadows Run's series so that their fits go through jsonFit; a
// field at a shallower depth wins in encoding/json.
type jsonRun struct {
	Run
	Series []jsonSeries `json:"series"`
	// Headline is written by EncodeJSONHeadline only.
	Headline []string `json:"headline,omitempty"`
}

type jsonSeries struct {
	Series
	Fit *jsonFit `json:"fit,omitempty"`
}

// jsonFit shadows the floats of timing.Fit that may be infinite or NaN.
type jsonFit struct {
	timing.Fit
	MaxRate   jsonFloat    `json:"max_rate_bps"`
	MaxRateCI [2]jsonFloat `json:"max_rate_ci_bps"`
	PeakRate  jsonFloat    `json:"peak_rate_bps"`
	R2        jsonFloat    `json:"r2"`
	RelRMS    jsonFloat    `json:"rel_rms"`
}

// jsonFloat is a float64 that writes ±Inf and NaN as the strings "+Inf",
// "-Inf" and "NaN" and reads them back.
type jsonFloat float64

// MarshalJSON writes f as a JSON number, or as a string when not finite.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads a JSON number or one of "+Inf", "-Inf", "NaN".
func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "+Inf", "Inf":
			*f = jsonFloat(math.Inf(1))
		case "-Inf":
			*f = jsonFloat(math.Inf(-1))
		case "NaN":
			*f = jsonFloat(math.NaN())
		default:
			return fmt.Errorf("want a number, \"+Inf\", \"-Inf\" or \"NaN\", found %q", s)
		}
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

// LoadAny reads a run from path in either form lvsperf writes: the
// canonical msgpack store or a JSON export (recognised by a leading '{').
func LoadAny(path string) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	first, _ := br.Peek(64)
	decode := Decode
	if t := bytes.TrimLeft(first, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		decode = DecodeJSON
	}
	r, err := decode(br)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// EncodeJSONHeadline writes r as EncodeJSON does, with the run's headline
// (the lines the command printed last) as a top-level "headline" array,
// which DecodeJSON ignores. It is the shape of every sweep's --json.
func EncodeJSONHeadline(w io.Writer, r *Run, headline []string) error {
	if headline == nil {
		headline = []string{}
	}
	return encodeJSON(w, r, headline)
}

// JSONFit returns f in the shape EncodeJSON writes fits in (unbounded
// rates as the string "+Inf"), for documents other than runs that carry
// fits; nil stays nil.
func JSONFit(f *timing.Fit) any {
	if f == nil {
		return nil
	}
	return &jsonFit{Fit: *f, MaxRate: jsonFloat(f.MaxRate),
		MaxRateCI: [2]jsonFloat{jsonFloat(f.MaxRateCI[0]), jsonFloat(f.MaxRateCI[1])},
		PeakRate:  jsonFloat(f.PeakRate), R2: jsonFloat(f.R2), RelRMS: jsonFloat(f.RelRMS)}
}
