package ipvsadm

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/lvsperf/lvsperf/director"
)

// maxRestoreLine bounds one -R line.
const maxRestoreLine = 4096

// Run parses args as one ipvsadm invocation and applies it to d; listings
// go to out, and -R reads rules from in.
func Run(d *director.Director, args []string, in io.Reader, out io.Writer) error {
	cmd, err := Parse(args)
	if err != nil {
		return err
	}
	return Apply(d, cmd, in, out)
}

// Apply performs a parsed command.
func Apply(d *director.Director, cmd Command, in io.Reader, out io.Writer) error {
	var only *director.ServiceKey
	if cmd.HasService {
		k := cmd.Service.Key()
		only = &k
	}
	wrap := func(err error) error {
		if err == nil {
			return nil
		}
		return &Error{Arg: cmd.Op.String(), Err: err}
	}
	switch cmd.Op {
	case OpAddService:
		return wrap(d.AddService(cmd.Service))
	case OpEditService:
		return wrap(d.EditService(cmd.Service))
	case OpDeleteService:
		return wrap(d.DeleteService(cmd.Service.Proto, cmd.Service.Addr))
	case OpClear:
		d.Clear()
		return nil
	case OpAddDest:
		return wrap(d.AddDest(cmd.Service.Proto, cmd.Service.Addr, cmd.Dest))
	case OpEditDest:
		return wrap(d.EditDest(cmd.Service.Proto, cmd.Service.Addr, cmd.Dest))
	case OpDeleteDest:
		return wrap(d.DeleteDest(cmd.Service.Proto, cmd.Service.Addr, cmd.Dest.Addr))
	case OpZero:
		return wrap(d.Zero(only))
	case OpSetTimeouts:
		d.SetTimeouts(cmd.Timeouts[0], cmd.Timeouts[1], cmd.Timeouts[2])
		return nil
	case OpSave:
		return WriteSave(out, d.Snapshot())
	case OpRestore:
		if in == nil {
			return &Error{Arg: "-R", Err: fmt.Errorf("no rules on standard input")}
		}
		return Restore(d, "stdin", in)
	case OpList:
		if cmd.List.Conns {
			return WriteConns(out, d.Conns(), only)
		}
		return WriteList(out, d.Snapshot(), cmd.List, only)
	}
	return &Error{Arg: cmd.Op.String(), Err: fmt.Errorf("command not implemented")}
}

// Restore applies ipvsadm rules, one per line (the -S format or any
// ipvsadm arguments, with or without a leading "ipvsadm"); blank lines and
// # comments are skipped. An error names the source and line.
func Restore(d *director.Director, name string, in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 512), maxRestoreLine)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = strings.TrimSpace(text[:i])
		}
		if text == "" {
			continue
		}
		args := strings.Fields(text)
		if args[0] == "ipvsadm" {
			args = args[1:]
		}
		cmd, err := Parse(args)
		if err == nil && (cmd.Op == OpRestore || cmd.Op == OpList || cmd.Op == OpSave) {
			err = &Error{Arg: cmd.Op.String(), Err: fmt.Errorf("not allowed in a rules file")}
		}
		if err == nil {
			err = Apply(d, cmd, nil, io.Discard)
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w (lines are limited to %d bytes)", name, line+1, err, maxRestoreLine)
	}
	return nil
}
