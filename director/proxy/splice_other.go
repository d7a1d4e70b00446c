//go:build !linux

package proxy

import (
	"io"
)

// pipePool has no pipes off Linux: the copy is io.Copy's.
type pipePool struct{ chunk int }

func newPipePool(_, size int, _ bool) *pipePool { return &pipePool{chunk: size} }

func (pp *pipePool) spliceBlocking(dst, src *leg, count func(bytes, packets int64)) error {
	return pp.splice(dst, src, count)
}

func (pp *pipePool) close() {}

func (pp *pipePool) splice(dst, src *leg, count func(bytes, packets int64)) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.tcp.Read(buf)
		if n > 0 {
			count(int64(n), 1)
			if _, werr := dst.tcp.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
