// Command combine joins the cairn side's and the Go side's JSON lines of
// bench/go/run.sh into one line per figure:
//
//	{"figure":...,"cairn_ns_op":...,"go_ns_op":...,"ratio":...,
//	 "cairn_allocs_op":...,"go_allocs_op":...,"goal":...,"met":...,...}
//
// ratio = go_ns_op / cairn_ns_op (how many times cairn's throughput is
// Go's; wall time); cpu_ratio the same with CPU time per operation (the
// process's for the codecs, so Go's garbage collector counts; each
// reader thread's for the lookups), which other tenants of the machine
// disturb less. With several rounds (run.sh GOCMP_ROUNDS) every figure is
// the median over the rounds, ratios being medians of per-round ratios,
// with their range. goal is the target for the figure (5 for every codec and
// coordinate figure and for find_route at 2+ readers, 1 for find_server:
// level with Go's atomic.Value), 0 where the issue sets none. Extra fields
// of either side follow, prefixed with its name.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type line map[string]interface{}

func read(path string) ([]line, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []line
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		t := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(t, "{") {
			continue
		}
		var l line
		if err := json.Unmarshal([]byte(t), &l); err != nil {
			return nil, fmt.Errorf("%s: %v: %s", path, err, t)
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

func goal(figure string) float64 {
	switch {
	case strings.HasPrefix(figure, "find_server_"):
		return 1
	case figure == "find_route_r1", figure == "dcs_by_distance":
		return 0
	default:
		return 5
	}
}

func num(v interface{}) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// With -md it prints the joined lines (its own JSON output) as the
// Markdown table of docs/performance.md instead.
func main() {
	if len(os.Args) == 3 && os.Args[1] == "-md" {
		if err := markdown(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "combine:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: combine CAIRN.jsonl GO.jsonl | combine -md JOINED.jsonl")
		os.Exit(2)
	}
	cairn, err := read(os.Args[1])
	if err == nil {
		var gol []line
		gol, err = read(os.Args[2])
		if err == nil {
			err = join(cairn, gol)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "combine:", err)
		os.Exit(1)
	}
}

// median of v (the mean of the two middle values when len(v) is even).
func median(v []float64) float64 {
	w := append([]float64(nil), v...)
	sort.Float64s(w)
	n := len(w)
	if n%2 == 0 {
		return (w[n/2-1] + w[n/2]) / 2
	}
	return w[n/2]
}

// group collects each figure's lines (one per round), in first-seen order.
func group(lines []line) ([]string, map[string][]line) {
	var order []string
	by := map[string][]line{}
	for _, l := range lines {
		fig := l["figure"].(string)
		if _, ok := by[fig]; !ok {
			order = append(order, fig)
		}
		by[fig] = append(by[fig], l)
	}
	return order, by
}

// cpuOf is a line's CPU time per operation: cpu_ns_op, or for the threaded
// lookups each reader's reader_cpu_ns_op; 0 when absent.
func cpuOf(l line) float64 {
	if v, ok := l["cpu_ns_op"].(float64); ok {
		return v
	}
	if v, ok := l["reader_cpu_ns_op"].(float64); ok {
		return v
	}
	return 0
}

// join pairs round k of a figure on the cairn side with round k on the Go
// side (run.sh runs whole rounds, cairn's then Go's) and prints medians
// over the rounds; the ratios are medians of the per-round ratios.
func join(cairn, gol []line) error {
	order, cby := group(cairn)
	_, gby := group(gol)
	met, total := 0, 0
	for _, fig := range order {
		cs, gs := cby[fig], gby[fig]
		if len(gs) != len(cs) {
			return fmt.Errorf("%s: %d cairn rounds, %d Go rounds", fig, len(cs), len(gs))
		}
		var cns, gns, ratio, cal, gal, ccpu, gcpu, cpuRatio []float64
		for k := range cs {
			c, g := cs[k], gs[k]
			cns = append(cns, c["ns_op"].(float64))
			gns = append(gns, g["ns_op"].(float64))
			ratio = append(ratio, g["ns_op"].(float64)/c["ns_op"].(float64))
			cal = append(cal, c["allocs_op"].(float64))
			gal = append(gal, g["allocs_op"].(float64))
			if cc, gc := cpuOf(c), cpuOf(g); cc > 0 && gc > 0 {
				ccpu, gcpu = append(ccpu, cc), append(gcpu, gc)
				cpuRatio = append(cpuRatio, gc/cc)
			}
		}
		r := median(ratio)
		var b strings.Builder
		fmt.Fprintf(&b, `{"figure":%q,"cairn_ns_op":%.4g,"go_ns_op":%.4g,"ratio":%.2f,`+
			`"cairn_allocs_op":%.4g,"go_allocs_op":%.4g`,
			fig, median(cns), median(gns), r, median(cal), median(gal))
		if gl := goal(fig); gl > 0 {
			total++
			if r >= gl {
				met++
			}
			fmt.Fprintf(&b, `,"goal":%g,"met":%v`, gl, r >= gl)
		}
		if len(cpuRatio) == len(cs) {
			fmt.Fprintf(&b, `,"cairn_cpu_ns_op":%.4g,"go_cpu_ns_op":%.4g,"cpu_ratio":%.2f`,
				median(ccpu), median(gcpu), median(cpuRatio))
		}
		sort.Float64s(ratio)
		fmt.Fprintf(&b, `,"rounds":%d,"ratio_min":%.2f,"ratio_max":%.2f`,
			len(cs), ratio[0], ratio[len(ratio)-1])
		// The rest of each side's fields, from the first round.
		for _, side := range []struct {
			name string
			l    line
		}{{"cairn", cs[0]}, {"go", gs[0]}} {
			var keys []string
			for k := range side.l {
				switch k {
				case "side", "figure", "ns_op", "allocs_op", "cpu_ns_op":
				default:
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, `,"%s_%s":%s`, side.name, k, num(side.l[k]))
			}
		}
		b.WriteString("}")
		fmt.Println(b.String())
	}
	fmt.Printf("{\"summary\":\"goals met\",\"met\":%d,\"of\":%d}\n", met, total)
	return nil
}

func fmtNs(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1f µs", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.2f µs", v/1e3)
	default:
		return fmt.Sprintf("%.3g ns", v)
	}
}

func fmtAllocs(v float64) string {
	if v == 0 {
		return "0"
	}
	if v < 0.01 {
		return fmt.Sprintf("%.0e", v)
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func markdown(path string) error {
	lines, err := read(path)
	if err != nil {
		return err
	}
	fmt.Println("| figure | cairn | Go | ratio | CPU-time ratio | goal | cairn allocs/op | Go allocs/op | notes |")
	fmt.Println("|---|---:|---:|---:|---:|---|---:|---:|---|")
	for _, l := range lines {
		fig, ok := l["figure"].(string)
		if !ok {
			continue
		}
		goal := ""
		if g, ok := l["goal"].(float64); ok {
			mark := "met"
			if l["met"] != true {
				mark = "**missed**"
			}
			goal = fmt.Sprintf("≥ %g×: %s", g, mark)
		}
		var notes []string
		if v, ok := l["ratio_min"].(float64); ok && l["rounds"].(float64) > 1 {
			notes = append(notes, fmt.Sprintf("ratio %.2f–%.2f over %.0f rounds", v,
				l["ratio_max"], l["rounds"]))
		}
		if v, ok := l["cairn_writes_per_s"].(float64); ok {
			notes = append(notes, fmt.Sprintf("writes/s %.0f vs %.0f", v, l["go_writes_per_s"]))
		}
		if v, ok := l["cairn_bytes"].(float64); ok && v > 0 {
			notes = append(notes, fmt.Sprintf("%.0f B", v))
		}
		if v, ok := l["go_same_bytes"].(bool); ok {
			if v {
				notes = append(notes, "Go's bytes identical")
			} else {
				notes = append(notes, "Go's bytes differ (map order)")
			}
		}
		if v, ok := l["go_same_result"].(bool); ok && v {
			notes = append(notes, "same order")
		}
		cpu := ""
		if v, ok := l["cpu_ratio"].(float64); ok {
			cpu = fmt.Sprintf("%.2f×", v)
		}
		fmt.Printf("| %s | %s | %s | %.2f× | %s | %s | %s | %s | %s |\n", fig,
			fmtNs(l["cairn_ns_op"].(float64)), fmtNs(l["go_ns_op"].(float64)),
			l["ratio"].(float64), cpu, goal, fmtAllocs(l["cairn_allocs_op"].(float64)),
			fmtAllocs(l["go_allocs_op"].(float64)), strings.Join(notes, "; "))
	}
	return nil
}
