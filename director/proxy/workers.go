package proxy

import "time"

// workerIdle is how long an idle worker goroutine waits for another task
// before it ends.
const workerIdle = 5 * time.Second

// spawn runs f on an idle worker goroutine, or a new one. Reusing workers
// keeps their grown stacks: a fresh goroutine per connection spends a
// measurable share of the proxy's CPU growing and copying its stack.
func (p *Proxy) spawn(f func()) {
	select {
	case p.tasks <- f:
	default:
		p.wg.Add(1)
		go p.worker(f)
	}
}

func (p *Proxy) worker(f func()) {
	defer p.wg.Done()
	f()
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		select {
		case f := <-p.tasks:
			f()
			t.Reset(workerIdle)
		case <-t.C:
			return
		case <-p.ctx.Done():
			return
		}
	}
}
