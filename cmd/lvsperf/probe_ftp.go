package main

import (
	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/probes/ftp"
)

// probeFTPFlags are the command's flags before they become options.
type probeFTPFlags struct {
	o       ftp.SweepOptions
	host    string
	dir     string
	storage string
	bulkFlags
}

// newProbeFTPCmd sweeps FTP gets and puts of file.N.
func newProbeFTPCmd() *cobra.Command {
	var f probeFTPFlags
	c := &cobra.Command{
		Use:   "ftp",
		Short: "Get and put file.N over FTP (passive or active), timing each whole transfer",
		Long: `Get file.MIN … file.MAX (2^N bytes) from the server to nowhere (RETR) and put
them to it (STOR), in binary mode, passive (EPSV, then PASV) or --active
(PORT/EPRT). Each transfer is timed from the command to the server's final
226, the data connection's set-up included; --login-per-transfer adds a
connect, USER/PASS and QUIT to every transfer, as running the console ftp
client once per file did in the seed.

Without --host it starts an embedded server (lvsperf serve ftp) per direction,
reached --via direct or --via director. Through the director only the control
connection passes it: data goes straight between client and realserver (the
realserver announces its own address for PASV; on loopback EPSV's port reaches
it too, elsewhere use --disable-epsv).

Examples:
  lvsperf probe ftp --max-exp 20 --out results/
  lvsperf probe ftp --active --login-per-transfer --dir get
  lvsperf probe ftp --host 127.0.0.1:2121 --user bench --password secret`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := f.o
			var err error
			if o.Dirs, err = ftp.ParseDirs(f.dir); err != nil {
				return err
			}
			o.Client.Addr = withPort(f.host, "21")
			o.Server.Storage = ftp.Storage(f.storage)
			if err := checkVia(f.via); err != nil {
				return err
			}
			o.Path = f.path()
			o.Timing.Budget = f.budget
			o.OutDir, o.Progress = f.out, f.progress(cmd)
			o.Name = "ftp-" + pathLabel(o.Path, f.host)
			res, err := ftp.Sweep(cmd.Context(), o)
			return f.report(cmd, res, err)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.host, "host", "", "server as host[:port] (port 21 when absent); empty starts an embedded server")
	fl.StringVar(&f.o.Client.User, "user", "", "user name (default anonymous)")
	fl.StringVar(&f.o.Client.Password, "password", "", "password")
	fl.BoolVar(&f.o.Client.Active, "active", false, "active mode: the server connects back for data (PORT/EPRT)")
	fl.BoolVar(&f.o.Client.DisableEPSV, "disable-epsv", false, "passive mode with PASV only")
	fl.BoolVar(&f.o.Client.LoginPerTransfer, "login-per-transfer", false, "connect and log in for every transfer (the seed's console client)")
	fl.DurationVar(&f.o.Client.Timeout, "timeout", ftp.DefaultTimeout, "time allowed for one transfer")
	fl.IntVar(&f.o.MinExp, "min-exp", 0, "smallest file: file.N = 2^N bytes")
	fl.IntVar(&f.o.MaxExp, "max-exp", 20, "largest file (at most 30)")
	fl.StringVar(&f.dir, "dir", "both", "get, put or both")
	fl.StringVar(&f.storage, "storage", "memory", "embedded server: memory or disk")
	fl.BoolVar(&f.o.Server.Sink, "sink", false, "embedded server discards uploads (cat > /dev/null)")
	f.bind(fl, "time allowed for the whole sweep, shared by the directions (0 = the timing core's defaults)")
	return c
}
