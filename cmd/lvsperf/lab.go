package main

import (
	"fmt"

	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsperf/lvsperf/lab"
	"github.com/lvsperf/lvsperf/timing"
)

type labUpOptions struct {
	seed lab.SeedOptions
	rate string
}

// newLabCmd is `lvsperf lab up|down|status`: the seed's namespace lab, by hand.
func newLabCmd() *cobra.Command {
	c := &cobra.Command{Use: "lab", Short: "Build, list and remove the namespace lab (client, director, realservers; needs root)"}
	var o labUpOptions
	up := &cobra.Command{
		Use:   "up",
		Short: "Build the seed lab and keep it until `lvsperf lab down`",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.rate != "" {
				r, err := parseRate(o.rate)
				if err != nil {
					return err
				}
				o.seed.Rate = r
			}
			s, err := lab.NewSeed(o.seed)
			if err != nil {
				return err
			}
			l, err := lab.Up(cmd.Context(), s.Spec, lab.Options{Keep: true})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "lab %s is up (remove with: lvsperf lab down)\n", l.Run)
			for _, h := range l.Hosts() {
				fmt.Fprintf(w, "  %-9s ip netns exec %s …\n", h.Name, h.NSName)
			}
			fmt.Fprintf(w, "targets from the client: direct %v  forward %v  NAT VIP %v  DR VIP %v  martian VIP %v\n",
				s.DirectTarget(0), s.RealLAN[0], s.VIPNAT, s.VIPDR, s.VIPMartian)
			fmt.Fprintln(w, "the director has no rules yet: the experiments program them (director/nft)")
			return nil
		},
	}
	up.Flags().IntVar(&o.seed.Realservers, "realservers", 1, "realservers (1 or 2)")
	up.Flags().BoolVar(&o.seed.OneNIC, "one-nic", false, "one LAN for client, director and realservers (no return LAN)")
	up.Flags().IntVar(&o.seed.ClientMTU, "mtu", 1500, "MTU of the client–director link")
	up.Flags().IntVar(&o.seed.ReturnMTU, "return-mtu", 1500, "MTU of the return LAN")
	up.Flags().StringVar(&o.rate, "rate", "", "tbf rate on the client–director link, e.g. 100mbit")
	up.Flags().BoolVar(&o.seed.OffloadsOff, "offloads-off", false, "turn TSO/GSO/GRO off on every device")
	up.Flags().BoolVar(&o.seed.Tunnel, "tunnel", false, "add the LVS-TUN path: VXLAN tun0 on director and realservers (no ipip in this kernel), TUN VIP .106")
	down := &cobra.Command{
		Use:   "down",
		Short: "Remove labs built by `lab up` and any left by crashed runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := lab.CheckRoot(); err != nil {
				return err
			}
			removed, err := lab.SweepStale(cmd.Context(), true)
			for _, n := range removed {
				fmt.Fprintln(cmd.OutOrStdout(), "removed", n)
			}
			if len(removed) == 0 && err == nil {
				fmt.Fprintln(cmd.OutOrStdout(), "no lab to remove (labs of running lvsperf processes are left to them)")
			}
			return err
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "List lab namespaces with their links and addresses",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := lab.Status()
			w := cmd.OutOrStdout()
			if len(st) == 0 && err == nil {
				fmt.Fprintln(w, "no lab namespaces")
			}
			for _, s := range st {
				tag := ""
				if s.Stale {
					tag = " (stale: owner gone; `lvsperf lab down` removes it)"
				}
				fmt.Fprintf(w, "%s%s\n", s.Name, tag)
				for _, l := range s.Links {
					var a []string
					for _, p := range l.Addrs {
						a = append(a, p.String())
					}
					state := "down"
					if l.Up {
						state = "up"
					}
					m := ""
					if l.Master != "" {
						m = " master " + l.Master
					}
					fmt.Fprintf(w, "  %-6s %-4s mtu %-5d %s%s %s\n", l.Name, state, l.MTU, l.MAC, m, strings.Join(a, " "))
				}
			}
			return err
		},
	}
	c.AddCommand(up, down, status)
	return c
}

// parseRate reads "100mbit", "1gbit", "500kbit" or plain bits per second.
func parseRate(s string) (timing.BitsPerSecond, error) {
	mult := 1.0
	t := strings.ToLower(s)
	for _, u := range []struct {
		suf string
		m   float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSuffix(t, u.suf), u.m
			break
		}
	}
	var v float64
	if _, err := fmt.Sscan(t, &v); err != nil || v <= 0 {
		return 0, fmt.Errorf("rate %q: want a positive number with kbit, mbit or gbit, e.g. 100mbit", s)
	}
	return timing.BitsPerSecond(v * mult), nil
}
