// Command combine joins the cairn side's and the Go side's JSON lines of
// bench/go/run.sh into one line per figure:
//
//	{"figure":...,"cairn_ns_op":...,"go_ns_op":...,"ratio":...,
//	 "cairn_allocs_op":...,"go_allocs_op":...,"goal":...,"met":...,...}
//
// ratio = go_ns_op / cairn_ns_op (how many times cairn's throughput is
// Go's); for the threaded lookups also cpu_ratio, the same with each
// reader's thread CPU time per lookup (less disturbed by other tenants). goal is the target for the figure (5 for every codec and
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

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: combine CAIRN.jsonl GO.jsonl")
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

func join(cairn, gol []line) error {
	byFig := map[string]line{}
	for _, l := range gol {
		byFig[l["figure"].(string)] = l
	}
	met, total := 0, 0
	for _, c := range cairn {
		fig := c["figure"].(string)
		g, ok := byFig[fig]
		if !ok {
			return fmt.Errorf("no Go figure for %s", fig)
		}
		cns, gns := c["ns_op"].(float64), g["ns_op"].(float64)
		ratio := gns / cns
		var b strings.Builder
		fmt.Fprintf(&b, `{"figure":%q,"cairn_ns_op":%.4g,"go_ns_op":%.4g,"ratio":%.2f,`+
			`"cairn_allocs_op":%.4g,"go_allocs_op":%.4g`,
			fig, cns, gns, ratio, c["allocs_op"].(float64), g["allocs_op"].(float64))
		cc, ok1 := c["reader_cpu_ns_op"].(float64)
		gc, ok2 := g["reader_cpu_ns_op"].(float64)
		if ok1 && ok2 && cc > 0 {
			fmt.Fprintf(&b, `,"cpu_ratio":%.2f`, gc/cc)
		}
		if gl := goal(fig); gl > 0 {
			total++
			if ratio >= gl {
				met++
			}
			fmt.Fprintf(&b, `,"goal":%g,"met":%v`, gl, ratio >= gl)
		}
		for _, side := range []struct {
			name string
			l    line
		}{{"cairn", c}, {"go", g}} {
			var keys []string
			for k := range side.l {
				switch k {
				case "side", "figure", "ns_op", "allocs_op":
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
