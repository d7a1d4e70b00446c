package main

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/results"
)

// exportOptions are the flags of lvsperf export.
type exportOptions struct {
	format string
	series string
	output string
}

// newExportCmd writes a stored run in another format.
func newExportCmd() *cobra.Command {
	var o exportOptions
	c := &cobra.Command{
		Use:   "export --format np2|np3|csv|json [--series N] [-o FILE] FILE",
		Short: "Write a stored run as NetPIPE 2/3 columns, CSV or JSON",
		Long: `Write a stored run (.msgpack, or a JSON export) in another format:
  np2   NetPIPE 2.3 columns "time Mbps bits bytes variance" (gnuplot: using 4:2)
  np3   NetPIPE 3 np.out columns "bytes Mbps time"
  csv   one row per point of every series, with a header
  json  the whole run, fits included
Mbps in np2/np3 divides by 2^20 as NetPIPE does; CSV has both 10^6 and 2^20.
np2 and np3 carry one series: --series takes its 0-based index or label.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd, o, args[0])
		},
	}
	c.Flags().StringVarP(&o.format, "format", "f", "", "export format: "+strings.Join(results.ExportFormats(), ", ")+" (required)")
	c.Flags().StringVar(&o.series, "series", "", "series for np2/np3: 0-based index or label (default the first)")
	c.Flags().StringVarP(&o.output, "output", "o", "", "write to this file instead of stdout")
	_ = c.MarkFlagRequired("format")
	return c
}

func runExport(cmd *cobra.Command, o exportOptions, file string) error {
	enc, err := results.NewEncoder(o.format, results.ExportOptions{Series: o.series})
	if err != nil {
		return err
	}
	run, err := results.LoadAny(file)
	if err != nil {
		return err
	}
	if (o.format == "np2" || o.format == "np3") && run.Intervals() {
		return usageError(fmt.Errorf("%s is a timed run (probe %s): its points are intervals, not message sizes, so NetPIPE's columns would misread them; export it with --format csv or json", file, run.Probe))
	}
	var buf bytes.Buffer
	if err := enc(&buf, run); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if o.output != "" {
		return results.WriteFileAtomic(o.output, buf.Bytes())
	}
	_, err = cmd.OutOrStdout().Write(buf.Bytes())
	return err
}
