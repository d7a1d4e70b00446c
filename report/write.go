package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lvsperf/lvsperf/results"
)

// WriteMarkdown writes the report as Markdown; figures are referenced by
// their File names, which WriteFiles writes beside it.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	b.WriteString("## Summary\n\n")
	for _, h := range headlineItems(r.Headlines) {
		fmt.Fprintf(&b, "- %s\n", mdEscape(h.Main))
		for _, m := range h.More {
			fmt.Fprintf(&b, "  %s\n", mdEscape(m))
		}
	}
	b.WriteString("\n")
	if r.Verdicts != nil {
		mdTable(&b, *r.Verdicts)
	}
	b.WriteString("## Environment\n\n")
	mdTable(&b, r.Environment)
	if len(r.Comparisons) > 0 {
		b.WriteString("## Comparisons across paths\n\n")
		for _, c := range r.Comparisons {
			fmt.Fprintf(&b, "### %s over %s\n\n%s\n\n", c.Probe, c.Over, strings.Join(c.Series, " vs "))
			mdFigure(&b, c.Figure)
			mdTable(&b, c.FitRatios)
			mdTable(&b, c.Ratios)
		}
	}
	for _, s := range r.Runs {
		fmt.Fprintf(&b, "## Run %s\n\n", s.Name)
		if s.Contention != "" {
			fmt.Fprintf(&b, "> **Busy machine:** %s\n\n", s.Contention)
		}
		mdTable(&b, s.Fits)
		if len(s.Problems) > 0 {
			b.WriteString("Model problems:\n\n")
			for _, p := range s.Problems {
				fmt.Fprintf(&b, "- %s\n", p)
			}
			b.WriteString("\n")
		}
		for _, f := range s.Figures {
			mdFigure(&b, f)
		}
		mdTable(&b, Table{Caption: "Environment", Header: []string{"", ""}, Rows: pairRows(s.Env)})
	}
	if r.Latency != nil {
		b.WriteString("## Latency across probes\n\n")
		mdTable(&b, *r.Latency)
	}
	fmt.Fprintf(&b, "## Runs\n\n%d run(s):\n\n", len(r.Runs))
	for _, s := range r.Runs {
		fmt.Fprintf(&b, "- **%s** — probe %s, path %s, %s\n", s.Name, s.Probe, orDash(s.Path), s.Status)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func pairRows(p [][2]string) [][]string {
	out := make([][]string, len(p))
	for i, kv := range p {
		out[i] = []string{kv[0], kv[1]}
	}
	return out
}

func mdFigure(b *strings.Builder, f Figure) {
	if f.File == "" {
		return
	}
	fmt.Fprintf(b, "![%s](%s)\n\n*%s*\n\n", mdEscape(f.Caption), f.File, mdEscape(f.Caption))
}

func mdTable(b *strings.Builder, t Table) {
	if len(t.Rows) == 0 {
		return
	}
	if t.Caption != "" {
		fmt.Fprintf(b, "**%s**\n\n", mdEscape(t.Caption))
	}
	b.WriteString("|")
	for _, h := range t.Header {
		b.WriteString(" " + mdEscape(h) + " |")
	}
	b.WriteString("\n|")
	for range t.Header {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, row := range t.Rows {
		b.WriteString("|")
		for _, c := range row {
			b.WriteString(" " + mdEscape(c) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// mdEscape keeps a cell's pipes and newlines from breaking a table.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "*", `\*`, "_", `\_`).Replace(s)
}

// headlineItem is one headline with its indented continuation lines.
type headlineItem struct {
	Main string
	More []string
}

func headlineItems(lines []string) []headlineItem {
	var out []headlineItem
	for _, l := range lines {
		if strings.HasPrefix(l, " ") && len(out) > 0 {
			out[len(out)-1].More = append(out[len(out)-1].More, strings.TrimSpace(l))
			continue
		}
		out = append(out, headlineItem{Main: l})
	}
	return out
}

// WriteHTML writes the report as one self-contained HTML page: styles
// inline, every figure a base64 PNG data URL.
func (r *Report) WriteHTML(w io.Writer) error {
	return page.Execute(w, r)
}

// WriteFiles writes the HTML report to htmlPath, its Markdown twin beside
// it (same name, .md) and the figures the Markdown refers to, each file
// atomically. It returns the files written.
func (r *Report) WriteFiles(htmlPath string) ([]string, error) {
	dir := filepath.Dir(htmlPath)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report directory: %w", err)
	}
	var written []string
	var hb bytes.Buffer
	if err := r.WriteHTML(&hb); err != nil {
		return nil, fmt.Errorf("render HTML: %w", err)
	}
	if err := results.WriteFileAtomic(htmlPath, hb.Bytes()); err != nil {
		return nil, err
	}
	written = append(written, htmlPath)
	mdPath := strings.TrimSuffix(htmlPath, filepath.Ext(htmlPath)) + ".md"
	var mb bytes.Buffer
	if err := r.WriteMarkdown(&mb); err != nil {
		return written, err
	}
	if err := results.WriteFileAtomic(mdPath, mb.Bytes()); err != nil {
		return written, err
	}
	written = append(written, mdPath)
	for _, f := range r.figures() {
		p := filepath.Join(dir, f.File)
		if err := results.WriteFileAtomic(p, f.PNG); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}

func (r *Report) figures() []Figure {
	var out []Figure
	for _, c := range r.Comparisons {
		if c.Figure.File != "" {
			out = append(out, c.Figure)
		}
	}
	for _, s := range r.Runs {
		out = append(out, s.Figures...)
	}
	return out
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"dataURL": func(png []byte) template.URL {
		return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	},
	"pairRows":      pairRows,
	"headlineItems": headlineItems,
	"anchor": func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
				return r
			}
			return '-'
		}, s)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d2430;background:#f6f7f9;margin:0}
main{max-width:1120px;margin:0 auto;padding:24px 28px 60px;background:#fff;box-shadow:0 0 12px rgba(0,0,0,.06)}
h1{font-size:26px;margin:0 0 6px}
h2{font-size:20px;margin:36px 0 10px;padding-top:10px;border-top:2px solid #e3e6ea}
h3{font-size:16px;margin:24px 0 8px}
nav ul{margin:6px 0 0;padding-left:20px}
.summary{background:#eef6ee;border-left:5px solid #3d8b40;padding:10px 16px;margin:14px 0}
.summary ul{margin:0;padding-left:20px}
.summary li{margin:4px 0;font-size:16px}
.summary .more{display:block;font-size:13px;color:#4a5563}
.scroll{overflow-x:auto;margin:8px 0 18px}
table{border-collapse:collapse;font-size:13px;width:100%}
caption{text-align:left;font-weight:600;padding:4px 0;color:#38414f}
th,td{border:1px solid #d5d9df;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#eef1f5}
tr:nth-child(even) td{background:#fafbfc}
figure{margin:10px 0 22px}
figure img{max-width:100%;height:auto;border:1px solid #e3e6ea}
figcaption{font-size:13px;color:#555f6d}
.warn{background:#fff4e0;border-left:4px solid #e8a33d;padding:8px 12px;margin:8px 0}
.problems{font-size:13px;color:#6b4b00}
.env th{width:140px}
details{margin:6px 0 18px}
summary{cursor:pointer;color:#38414f;font-weight:600}
.figs figure{max-width:960px}
@media (max-width:600px){main{padding:14px 12px 40px}h1{font-size:22px}.summary li{font-size:15px}table{font-size:12px}.env th{width:auto}
.scroll td{white-space:nowrap}.env td{white-space:normal}
figure{overflow-x:auto}figure img{max-width:none;width:640px}}
</style></head><body><main>
<h1>{{.Title}}</h1>
<section class="summary" id="summary"><b>Summary</b>
{{- if .Headlines}}<ul>{{range headlineItems .Headlines}}<li>{{.Main}}{{range .More}}<span class="more">{{.}}</span>{{end}}</li>{{end}}</ul>
{{- else}}<p>No headline: no run had a fit.</p>{{end}}
</section>
{{- if .Verdicts}}{{template "table" .Verdicts}}{{end}}
<h2 id="environment">Environment</h2>
{{- with .Environment}}<div class="scroll"><table class="env"><caption>{{.Caption}}</caption>
{{- range .Rows}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}
</table></div>{{end}}
{{- range .Comparisons}}
<h2 id="cmp-{{anchor .Probe}}">Comparison: {{.Probe}} over {{.Over}}</h2>
<p>{{range $i, $s := .Series}}{{if $i}} vs {{end}}<b>{{$s}}</b>{{end}}{{if gt (len .Series) 1}} (the first is the reference){{end}}</p>
{{- if .Figure.File}}<figure><img alt="{{.Figure.Caption}}" src="{{dataURL .Figure.PNG}}"><figcaption>{{.Figure.Caption}}</figcaption></figure>{{end}}
{{template "table" .FitRatios}}
{{template "table" .Ratios}}
{{- end}}
{{- if .Latency}}
<h2 id="latency">Latency across probes</h2>
{{template "table" .Latency}}
{{- end}}
{{- range .Runs}}
<h2 id="run-{{anchor .Name}}">Run {{.Name}}</h2>
{{- if .Contention}}<div class="warn"><b>Busy machine:</b> {{.Contention}}</div>{{end}}
{{template "table" .Fits}}
{{- if .Problems}}<div class="problems"><b>Model problems:</b><ul>{{range .Problems}}<li>{{.}}</li>{{end}}</ul></div>{{end}}
<div class="figs">
{{- range .Figures}}<figure><img alt="{{.Caption}}" src="{{dataURL .PNG}}"><figcaption>{{.Caption}}</figcaption></figure>{{end}}
</div>
<details><summary>Environment of this run</summary><div class="scroll"><table class="env"><caption>Environment</caption>
{{- range .Env}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}
</table></div></details>
{{- end}}
<h2 id="runs">Runs</h2>
<nav><ul>
{{- range .Runs}}<li><a href="#run-{{anchor .Name}}">{{.Name}}</a> — probe {{.Probe}}, path {{if .Path}}{{.Path}}{{else}}-{{end}}, {{.Status}}</li>{{end}}
{{- if .Latency}}<li><a href="#latency">Latency across probes</a></li>{{end}}
{{- range .Comparisons}}<li><a href="#cmp-{{anchor .Probe}}">Comparison: {{.Probe}} over {{.Over}}</a></li>{{end}}
</ul></nav>
</main></body></html>
{{define "table"}}{{if .Rows}}<div class="scroll"><table><caption>{{.Caption}}</caption>
<thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</tbody></table></div>{{end}}{{end}}
`))
