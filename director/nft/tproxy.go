package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TProxyTable is the table TProxy owns in its namespace.
const TProxyTable = "lvsperf_tproxy"

// TProxy accepts packets for VIPs the host holds no address for, by nft
// tproxy, instead of a VIP device (the seed's "transparent proxy"). It runs
// on a realserver or a director. The host needs a rule "fwmark Mark lookup
// T" and a route "local 0.0.0.0/0 dev lo table T" (lab.Seed has both), and
// the listening socket needs IP_TRANSPARENT.
type TProxy struct {
	conn  *nftables.Conn
	table *nftables.Table
}

// ProgramTProxy installs, in the namespace nsFD, "ip daddr VIP tcp dport
// port tproxy to :port meta mark set mark accept" for each VIP.
func ProgramTProxy(nsFD int, vips []netip.Addr, port uint16, mark uint32) (*TProxy, error) {
	if len(vips) == 0 || port == 0 || mark == 0 {
		return nil, errors.New("nft tproxy: give at least one VIP, a port and a non-zero mark")
	}
	c, err := nftables.New(nftables.WithNetNSFd(nsFD))
	if err != nil {
		return nil, fmt.Errorf("nft tproxy: open netlink: %w", err)
	}
	tp := &TProxy{conn: c}
	tp.remove()
	_ = c.Flush()
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: TProxyTable})
	tp.table = t
	accept := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{Name: "pre", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityMangle, Policy: &accept})
	p := binary.BigEndian.AppendUint16(nil, port)
	for _, v := range vips {
		if !v.Is4() {
			return nil, fmt.Errorf("nft tproxy: VIP %v is not IPv4", v)
		}
		a := v.As4()
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, UserData: []byte(tagRequests), Exprs: []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p},
			&expr.Counter{},
			&expr.Immediate{Register: 1, Data: p},
			&expr.TProxy{Family: byte(nftables.TableFamilyIPv4), TableFamily: byte(nftables.TableFamilyIPv4), RegPort: 1},
			&expr.Immediate{Register: 1, Data: binary.NativeEndian.AppendUint32(nil, mark)},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
			&expr.Verdict{Kind: expr.VerdictAccept},
		}})
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("nft tproxy: install rules: %w (does the kernel have nft_tproxy?)", err)
	}
	return tp, nil
}

func (tp *TProxy) remove() {
	tables, err := tp.conn.ListTables()
	if err != nil {
		return
	}
	for _, t := range tables {
		if t.Name == TProxyTable && t.Family == nftables.TableFamilyIPv4 {
			tp.conn.DelTable(t)
		}
	}
}

// Packets reads how many packets the tproxy rules took.
func (tp *TProxy) Packets() (uint64, error) {
	chains, err := tp.conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return 0, fmt.Errorf("nft tproxy: list chains: %w", err)
	}
	var n uint64
	for _, ch := range chains {
		if ch.Table.Name != TProxyTable {
			continue
		}
		rules, err := tp.conn.GetRules(ch.Table, ch)
		if err != nil {
			return 0, fmt.Errorf("nft tproxy: read rules: %w", err)
		}
		for _, r := range rules {
			for _, x := range r.Exprs {
				if c, ok := x.(*expr.Counter); ok {
					n += c.Packets
				}
			}
		}
	}
	return n, nil
}

// Close removes the tproxy table.
func (tp *TProxy) Close() error {
	tp.remove()
	if err := tp.conn.Flush(); err != nil {
		return fmt.Errorf("nft tproxy: remove table: %w", err)
	}
	return nil
}
