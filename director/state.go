package director

import (
	"time"

	"github.com/lvsperf/lvsperf/director/dataplane"
)

// State is a connection entry's state as ipvsadm -L -c shows it: IPVS's
// TCP states, and UDP for UDP entries.
type State int

// Connection states, in IPVS's order (ip_vs_proto_tcp.c), then UDP.
const (
	StateNone State = iota
	StateEstablished
	StateSynSent
	StateSynRecv
	StateFinWait
	StateTimeWait
	StateClose
	StateCloseWait
	StateLastAck
	StateListen
	StateSynAck
	StateUDP
	numStates
)

var stateNames = [numStates]string{"NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT",
	"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK", "UDP"}

// String is the state's name in ipvsadm -L -c.
func (s State) String() string {
	if s >= 0 && s < numStates {
		return stateNames[s]
	}
	return "ERR!"
}

// Active reports whether a connection in s counts as ActiveConn: the
// kernel's tcp_state_active_table (ESTABLISHED, SYN_SENT, SYN_RECV, SYNACK).
func (s State) Active() bool {
	switch s {
	case StateEstablished, StateSynSent, StateSynRecv, StateSynAck:
		return true
	}
	return false
}

// Timeouts are the idle timeouts of connection entries per state.
type Timeouts [numStates]time.Duration

// DefaultTimeouts are IPVS's defaults: ESTABLISHED 900 s, SYN_SENT 120,
// SYN_RECV 60, FIN_WAIT 120, TIME_WAIT 120, CLOSE 10, CLOSE_WAIT 60,
// LAST_ACK 30, LISTEN 120, SYNACK 120, NONE 2; UDP 300 s.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		StateNone:        2 * time.Second,
		StateEstablished: 900 * time.Second,
		StateSynSent:     120 * time.Second,
		StateSynRecv:     60 * time.Second,
		StateFinWait:     120 * time.Second,
		StateTimeWait:    120 * time.Second,
		StateClose:       10 * time.Second,
		StateCloseWait:   60 * time.Second,
		StateLastAck:     30 * time.Second,
		StateListen:      120 * time.Second,
		StateSynAck:      120 * time.Second,
		StateUDP:         300 * time.Second,
	}
}

// tcpFlag indexes the kernel's state table rows by priority RST > SYN > FIN > ACK.
type tcpFlag int

const (
	flagSyn tcpFlag = iota
	flagFin
	flagAck
	flagRst
)

const (
	sNO = StateNone
	sES = StateEstablished
	sSS = StateSynSent
	sSR = StateSynRecv
	sFW = StateFinWait
	sTW = StateTimeWait
	sCL = StateClose
	sCW = StateCloseWait
	sLA = StateLastAck
	sLI = StateListen
	sSA = StateSynAck
)

// tcpInput and tcpOutput are IPVS's tcp_states table (NAT: both
// directions seen) for client→server and server→client segments.
var tcpInput = [4][11]State{
	flagSyn: {sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR},
	flagFin: {sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW},
	flagAck: {sCL, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES},
	flagRst: {sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR},
}

var tcpOutput = [4][11]State{
	flagSyn: {sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR},
	flagFin: {sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW},
	flagAck: {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES},
	flagRst: {sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL},
}

// nextState maps an engine event on a TCP entry to the state IPVS would
// reach from the segments behind it: accept = client SYN (SYN_RECV);
// Established = the client's ACK after the server's SYN/ACK; ClientFin and
// ServerFin = a FIN each way; Reset = client RST; DialFailed = server RST;
// Closed from an active state = CLOSE (the engine gave up without FINs).
func nextState(s State, e dataplane.Event) State {
	if s < 0 || s > StateSynAck {
		return s
	}
	switch e {
	case dataplane.Established:
		return tcpInput[flagAck][s]
	case dataplane.ClientFin:
		return tcpInput[flagFin][s]
	case dataplane.ServerFin:
		return tcpOutput[flagFin][s]
	case dataplane.Reset:
		return tcpInput[flagRst][s]
	case dataplane.DialFailed:
		return tcpOutput[flagRst][s]
	case dataplane.Closed:
		if s.Active() {
			return StateClose
		}
	}
	return s
}
