package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// NSStatus describes one lab namespace as it is now.
type NSStatus struct {
	Name NSName
	// Stale is set when the owner process is gone.
	Stale bool
	Links []LinkStatus
}

// LinkStatus is one device inside a lab namespace.
type LinkStatus struct {
	Name   string
	MAC    string
	MTU    int
	Up     bool
	Master string
	Addrs  []netip.Prefix
}

// Status lists every lvsperf namespace with its devices and addresses.
func Status() ([]NSStatus, error) {
	if err := CheckRoot(); err != nil {
		return nil, err
	}
	names, err := Namespaces()
	if err != nil {
		return nil, err
	}
	sort.Slice(names, func(i, j int) bool { return names[i].String() < names[j].String() })
	var out []NSStatus
	var errs []error
	for _, n := range names {
		st := NSStatus{Name: n}
		if n.Owner != KeepOwner {
			var pid int
			fmt.Sscan(n.Owner, &pid)
			st.Stale = !alive(pid)
		}
		links, err := listLinks(filepath.Join(nsDir, n.String()))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
		}
		st.Links = links
		out = append(out, st)
	}
	return out, errors.Join(errs...)
}

func listLinks(path string) ([]LinkStatus, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, err
	}
	byIndex := map[int]string{}
	for _, l := range links {
		byIndex[l.Attrs().Index] = l.Attrs().Name
	}
	var out []LinkStatus
	for _, l := range links {
		a := l.Attrs()
		ls := LinkStatus{Name: a.Name, MAC: a.HardwareAddr.String(), MTU: a.MTU, Up: a.Flags&1 != 0, Master: byIndex[a.MasterIndex]}
		addrs, err := h.AddrList(l, netlink.FAMILY_V4)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
		for _, ad := range addrs {
			if p, ok := netip.AddrFromSlice(ad.IP.To4()); ok {
				ones, _ := ad.Mask.Size()
				ls.Addrs = append(ls.Addrs, netip.PrefixFrom(p, ones))
			}
		}
		out = append(out, ls)
	}
	return out, nil
}
