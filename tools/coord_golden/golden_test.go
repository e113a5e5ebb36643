// Golden vectors for cairn's coordinate client, computed by Serf's own Go
// coordinate package (0.9.4, as Debian ships it). Run tools/coord_golden.sh;
// it copies the package to a scratch GOPATH, routes unitVectorAt's
// rand.Float64 through a hook, adds this file and writes
// tests/vectors/coord_golden.txt.
//
// Every random number comes from a Go copy of cairn's rng (xoshiro256**
// seeded by splitmix64): the peer choice of each simulation from seed 1, and
// each client's random directions from seed index+1. So cairn and Serf see
// the same draws and must end at the same coordinates, bit for bit. Each
// line: topology, node index, then Error, Adjustment, Height and Vec as
// IEEE-754 bit patterns in hex.
package coordinate

import (
	"fmt"
	"math"
	"math/bits"
	"os"
	"testing"
	"time"
)

// xoshiro256** seeded by splitmix64, as cairn's rng.c.
type xrng struct{ s [4]uint64 }

func newX(seed uint64) *xrng {
	r := &xrng{}
	for i := 0; i < 4; i++ {
		seed += 0x9e3779b97f4a7c15
		z := seed
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		r.s[i] = z ^ (z >> 31)
	}
	return r
}
func (r *xrng) u64() uint64 {
	s := &r.s
	result := bits.RotateLeft64(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = bits.RotateLeft64(s[3], 45)
	return result
}
func (r *xrng) below(n uint64) uint64 {
	hi, lo := bits.Mul64(r.u64(), n)
	if lo < n {
		th := -n % n
		for lo < th {
			hi, lo = bits.Mul64(r.u64(), n)
		}
	}
	return hi
}
func (r *xrng) float() float64 { return float64(r.u64()>>11) * (1.0 / (1 << 53)) }
func (r *xrng) normal() float64 {
	for {
		u := 2*r.float() - 1
		v := 2*r.float() - 1
		s := u*u + v*v
		if s >= 1 || s == 0 {
			continue
		}
		return u * math.Sqrt(-2*math.Log(s)/s)
	}
}

func simX(clients []*Client, rngs []*xrng, truth [][]time.Duration, cycles int) {
	r := newX(1)
	n := len(clients)
	for c := 0; c < cycles; c++ {
		for i := range clients {
			j := int(r.below(uint64(n)))
			if j == i {
				continue
			}
			co := clients[j].GetCoordinate()
			randFloat = rngs[i].float
			if _, err := clients[i].Update(fmt.Sprintf("node_%d", j), co, truth[i][j]); err != nil {
				panic(err)
			}
		}
	}
}

func dump(f *os.File, name string, clients []*Client) {
	for i, c := range clients {
		co := c.GetCoordinate()
		fmt.Fprintf(f, "%s %d %016x %016x %016x", name, i, math.Float64bits(co.Error), math.Float64bits(co.Adjustment), math.Float64bits(co.Height))
		for _, v := range co.Vec {
			fmt.Fprintf(f, " %016x", math.Float64bits(v))
		}
		fmt.Fprintln(f)
	}
}

func mk(n int, cfg *Config) ([]*Client, []*xrng) {
	cl, _ := GenerateClients(n, cfg)
	rs := make([]*xrng, n)
	for i := range rs {
		rs[i] = newX(uint64(i + 1))
	}
	return cl, rs
}

func TestGolden(t *testing.T) {
	f, _ := os.Create(os.Getenv("GOLDEN_OUT"))
	defer f.Close()
	cfg := DefaultConfig()
	cl, rs := mk(10, cfg)
	tr := GenerateLine(10, 10*time.Millisecond)
	simX(cl, rs, tr, 1000)
	Evaluate(cl, tr)
	dump(f, "line", cl)

	cl, rs = mk(25, cfg)
	tr = GenerateGrid(25, 10*time.Millisecond)
	simX(cl, rs, tr, 1000)
	Evaluate(cl, tr)
	dump(f, "grid", cl)

	cl, rs = mk(25, cfg)
	tr = GenerateSplit(25, time.Millisecond, 10*time.Millisecond)
	simX(cl, rs, tr, 1000)
	Evaluate(cl, tr)
	dump(f, "split", cl)

	c2 := DefaultConfig()
	c2.Dimensionality = 2
	cl, rs = mk(25, c2)
	tr = GenerateCircle(25, 100*time.Millisecond)
	simX(cl, rs, tr, 1000)
	Evaluate(cl, tr)
	dump(f, "height", cl)

	// random with xrng normal
	cl, rs = mk(25, cfg)
	{
		r := newX(1)
		tr = make([][]time.Duration, 25)
		for i := range tr {
			tr[i] = make([]time.Duration, 25)
		}
		for i := 0; i < 25; i++ {
			for j := i + 1; j < 25; j++ {
				s := r.normal()*(10*time.Millisecond).Seconds() + (100 * time.Millisecond).Seconds()
				d := time.Duration(s * secondsToNanoseconds)
				tr[i][j], tr[j][i] = d, d
			}
		}
	}
	simX(cl, rs, tr, 1000)
	Evaluate(cl, tr)
	dump(f, "random", cl)

	// drift: the 2-D square of TestPerformance_Drift, 1000 + 10000 cycles
	cl, rs = mk(4, c2)
	d := (500 * time.Millisecond).Seconds()
	cl[0].coord.Vec = []float64{0.0, 0.0}
	cl[1].coord.Vec = []float64{0.0, d}
	cl[2].coord.Vec = []float64{d, d}
	cl[3].coord.Vec = []float64{d, d}
	tr = make([][]time.Duration, 4)
	for i := range tr {
		tr[i] = make([]time.Duration, 4)
	}
	for i := 0; i < 4; i++ {
		for j := i + 1; j < 4; j++ {
			rtt := 500 * time.Millisecond
			if (i%2 == 0) && (j%2 == 0) {
				rtt = time.Duration(math.Sqrt2 * float64(rtt))
			}
			tr[i][j], tr[j][i] = rtt, rtt
		}
	}
	simX(cl, rs, tr, 1000)
	simX(cl, rs, tr, 10000)
	dump(f, "drift", cl)
}
