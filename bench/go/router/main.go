// Command router is the Go side of cairn's routing comparison: a faithful
// model of Consul's client-side server Manager and Router (agent/router,
// spec consul-servers.md §1.1, §2.1, §2.6, §2.8, §5.2), run the way Consul
// runs it, next to cairn's gocmp_router. bench/go/run.sh builds it offline
// in GOPATH mode and runs `router DIR`, where DIR holds the inputs
// gocmp_router wrote. One JSON object per figure:
//
//	{"side":"go","figure":...,"ns_op":...,"reader_ns_op":...,"allocs_op":...,
//	 "writes_per_s":...,"readers":N}
//
// The model keeps Consul's data structures and locking exactly:
//   - Manager: the server list is a serverList value published through an
//     atomic.Value; FindServer loads it with no lock and returns element 0;
//     writers (AddServer, RemoveServer) hold listLock, build a new slice
//     (copy-on-write) and Store it; offline is an int32 read atomically.
//   - Router: one sync.RWMutex over areas and managers (map from datacenter
//     to the ordered list of managers); FindRoute calls routeFn =
//     findDirectRoute, which takes the read lock, looks the datacenter's
//     managers up, skips offline ones and returns the first FindServer.
//     AddServer/RemoveServer take the write lock, then the manager's.
//   - GetDatacentersByDistance: router.go's algorithm under the read lock,
//     with metadata.IsConsulServer run on every member and lib's
//     ComputeDistance over serf's coordinate.DistanceTo, over Consul's
//     router_test.go mockCluster.
//
// What it leaves out does not run on these paths: loggers (FindServer logs
// only on an empty list, which never happens here), rebalance timers,
// shutdown channels, the pinger. Build versions are parsed with the
// \d+\.\d+\.\d+ regexp then a plain split into integers (hashicorp/go-version
// is not packaged in Debian; its own regexp would only make Go slower).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/hashicorp/serf/coordinate"
	"github.com/hashicorp/serf/serf"
)

// ---- metadata.Server and IsConsulServer (spec §5) ----

type Version struct{ segments []int64 }

type Server struct {
	Name         string
	ShortName    string
	ID           string
	Datacenter   string
	Segment      string
	Port         int
	SegmentAddrs map[string]string
	SegmentPorts map[string]int
	WanJoinPort  int
	Bootstrap    bool
	Expect       int
	Build        Version
	Version      int
	RaftVersion  int
	Addr         net.Addr
	Status       serf.MemberStatus
	NonVoter     bool
	UseTLS       bool
}

var versionFormat = regexp.MustCompile(`\d+\.\d+\.\d+`)

func parseVersion(s string) (*Version, error) {
	if s == "" {
		return nil, fmt.Errorf("Malformed version: %s", s)
	}
	parts := strings.Split(s, ".")
	v := &Version{segments: make([]int64, len(parts))}
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, err
		}
		v.segments[i] = n
	}
	return v, nil
}

// Build is metadata.Build.
func Build(m *serf.Member) (*Version, error) {
	str := versionFormat.FindString(m.Tags["build"])
	return parseVersion(str)
}

// IsConsulServer is metadata.IsConsulServer (Consul 1.x).
func IsConsulServer(m serf.Member) (bool, *Server) {
	if m.Tags["role"] != "consul" {
		return false, nil
	}
	datacenter := m.Tags["dc"]
	segment := m.Tags["segment"]
	_, bootstrap := m.Tags["bootstrap"]
	_, useTLS := m.Tags["use_tls"]
	expect := 0
	expectStr, ok := m.Tags["expect"]
	var err error
	if ok {
		expect, err = strconv.Atoi(expectStr)
		if err != nil {
			return false, nil
		}
	}
	portStr := m.Tags["port"]
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return false, nil
	}
	segmentAddrs := make(map[string]string)
	segmentPorts := make(map[string]int)
	for name, value := range m.Tags {
		if strings.HasPrefix(name, "sl_") {
			addr, portStr, err := net.SplitHostPort(value)
			if err != nil {
				return false, nil
			}
			segmentPort, err := strconv.Atoi(portStr)
			if err != nil {
				return false, nil
			}
			segmentName := strings.TrimPrefix(name, "sl_")
			segmentAddrs[segmentName] = addr
			segmentPorts[segmentName] = segmentPort
		}
	}
	buildVersion, err := Build(&m)
	if err != nil {
		return false, nil
	}
	wanJoinPort := 0
	wanJoinPortStr, ok := m.Tags["wan_join_port"]
	if ok {
		wanJoinPort, err = strconv.Atoi(wanJoinPortStr)
		if err != nil {
			return false, nil
		}
	}
	vsnStr := m.Tags["vsn"]
	vsn, err := strconv.Atoi(vsnStr)
	if err != nil {
		return false, nil
	}
	raftVsn := 0
	raftVsnStr, ok := m.Tags["raft_vsn"]
	if ok {
		raftVsn, err = strconv.Atoi(raftVsnStr)
		if err != nil {
			return false, nil
		}
	}
	_, nonVoter := m.Tags["nonvoter"]
	addr := &net.TCPAddr{IP: m.Addr, Port: port}
	parts := &Server{
		Name:         m.Name,
		ShortName:    strings.TrimSuffix(m.Name, "."+datacenter),
		ID:           m.Tags["id"],
		Datacenter:   datacenter,
		Segment:      segment,
		Port:         port,
		SegmentAddrs: segmentAddrs,
		SegmentPorts: segmentPorts,
		WanJoinPort:  wanJoinPort,
		Bootstrap:    bootstrap,
		Expect:       expect,
		Addr:         addr,
		Build:        *buildVersion,
		Version:      vsn,
		RaftVersion:  raftVsn,
		Status:       m.Status,
		NonVoter:     nonVoter,
		UseTLS:       useTLS,
	}
	return true, parts
}

// ComputeDistance is lib.ComputeDistance.
func ComputeDistance(a *coordinate.Coordinate, b *coordinate.Coordinate) float64 {
	if a == nil || b == nil {
		return math.Inf(1.0)
	}
	return a.DistanceTo(b).Seconds()
}

// ---- Manager (spec §1.1) ----

type serverList struct {
	servers []*Server
}

type Manager struct {
	listValue atomic.Value
	listLock  sync.Mutex
	offline   int32
}

func NewManager() *Manager {
	m := &Manager{}
	atomic.StoreInt32(&m.offline, 1)
	m.saveServerList(serverList{servers: make([]*Server, 0)})
	return m
}

func (m *Manager) getServerList() serverList { return m.listValue.Load().(serverList) }

func (m *Manager) saveServerList(l serverList) { m.listValue.Store(l) }

func (m *Manager) IsOffline() bool { return atomic.LoadInt32(&m.offline) == 1 }

func (m *Manager) NumServers() int { return len(m.getServerList().servers) }

// FindServer is Manager.FindServer: lock-free load, element 0.
func (m *Manager) FindServer() *Server {
	l := m.getServerList()
	numServers := len(l.servers)
	if numServers == 0 {
		return nil // Consul logs "No servers available" here
	}
	return l.servers[0]
}

// AddServer is Manager.AddServer: copy-on-write under listLock.
func (m *Manager) AddServer(s *Server) {
	m.listLock.Lock()
	defer m.listLock.Unlock()
	l := m.getServerList()
	found := false
	for idx, existing := range l.servers {
		if existing.Name == s.Name {
			newServers := make([]*Server, len(l.servers))
			copy(newServers, l.servers)
			newServers[idx] = s
			l.servers = newServers
			found = true
			break
		}
	}
	if !found {
		newServers := make([]*Server, len(l.servers), len(l.servers)+1)
		copy(newServers, l.servers)
		newServers = append(newServers, s)
		l.servers = newServers
	}
	atomic.StoreInt32(&m.offline, 0)
	m.saveServerList(l)
}

// RemoveServer is Manager.RemoveServer.
func (m *Manager) RemoveServer(s *Server) {
	m.listLock.Lock()
	defer m.listLock.Unlock()
	l := m.getServerList()
	for i := range l.servers {
		if l.servers[i].Name == s.Name {
			newServers := make([]*Server, 0, len(l.servers)-1)
			newServers = append(newServers, l.servers[:i]...)
			newServers = append(newServers, l.servers[i+1:]...)
			l.servers = newServers
			m.saveServerList(l)
			return
		}
	}
}

// ---- Router (spec §2.1) ----

type Cluster interface {
	NumNodes() int
	Members() []serf.Member
	GetCoordinate() (*coordinate.Coordinate, error)
	GetCachedCoordinate(name string) (*coordinate.Coordinate, bool)
}

type managerInfo struct {
	manager    *Manager
	shutdownCh chan struct{}
}

type areaInfo struct {
	cluster  Cluster
	managers map[string]*managerInfo
}

type Router struct {
	localDatacenter string
	areas           map[string]*areaInfo
	managers        map[string][]*Manager
	routeFn         func(datacenter string) (*Manager, *Server, bool)
	isShutdown      bool
	sync.RWMutex
}

func NewRouter(localDatacenter string) *Router {
	r := &Router{
		localDatacenter: localDatacenter,
		areas:           make(map[string]*areaInfo),
		managers:        make(map[string][]*Manager),
	}
	r.routeFn = r.findDirectRoute
	return r
}

// AddArea is Router.AddArea: every server member is added.
func (r *Router) AddArea(areaID string, cluster Cluster) error {
	r.Lock()
	defer r.Unlock()
	if _, ok := r.areas[areaID]; ok {
		return fmt.Errorf("area ID %q already exists", areaID)
	}
	area := &areaInfo{cluster: cluster, managers: make(map[string]*managerInfo)}
	r.areas[areaID] = area
	for _, m := range cluster.Members() {
		ok, parts := IsConsulServer(m)
		if !ok {
			continue
		}
		if err := r.addServer(area, parts); err != nil {
			return err
		}
	}
	return nil
}

func (r *Router) addServer(area *areaInfo, s *Server) error {
	info, ok := area.managers[s.Datacenter]
	if !ok {
		manager := NewManager()
		info = &managerInfo{manager: manager, shutdownCh: make(chan struct{})}
		area.managers[s.Datacenter] = info
		managers := r.managers[s.Datacenter]
		r.managers[s.Datacenter] = append(managers, manager)
	}
	info.manager.AddServer(s)
	return nil
}

// AddServer is Router.AddServer.
func (r *Router) AddServer(areaID string, s *Server) error {
	r.Lock()
	defer r.Unlock()
	area, ok := r.areas[areaID]
	if !ok {
		return fmt.Errorf("area ID %q does not exist", areaID)
	}
	return r.addServer(area, s)
}

func (r *Router) removeManagerFromIndex(datacenter string, manager *Manager) {
	managers := r.managers[datacenter]
	for i := 0; i < len(managers); i++ {
		if managers[i] == manager {
			r.managers[datacenter] = append(managers[:i], managers[i+1:]...)
			if len(r.managers[datacenter]) == 0 {
				delete(r.managers, datacenter)
			}
			return
		}
	}
}

// RemoveServer is Router.RemoveServer.
func (r *Router) RemoveServer(areaID string, s *Server) error {
	r.Lock()
	defer r.Unlock()
	area, ok := r.areas[areaID]
	if !ok {
		return fmt.Errorf("area ID %q does not exist", areaID)
	}
	info, ok := area.managers[s.Datacenter]
	if !ok {
		return nil
	}
	info.manager.RemoveServer(s)
	if num := info.manager.NumServers(); num == 0 {
		r.removeManagerFromIndex(s.Datacenter, info.manager)
		close(info.shutdownCh)
		delete(area.managers, s.Datacenter)
	}
	return nil
}

// FindRoute is Router.FindRoute.
func (r *Router) FindRoute(datacenter string) (*Manager, *Server, bool) {
	return r.routeFn(datacenter)
}

func (r *Router) findDirectRoute(datacenter string) (*Manager, *Server, bool) {
	r.RLock()
	defer r.RUnlock()
	managers, ok := r.managers[datacenter]
	if !ok {
		return nil, nil, false
	}
	for _, manager := range managers {
		if manager.IsOffline() {
			continue
		}
		if s := manager.FindServer(); s != nil {
			return manager, s, true
		}
	}
	return nil, nil, false
}

type datacenterSorter struct {
	Names []string
	Vec   []float64
}

func (n *datacenterSorter) Len() int { return len(n.Names) }
func (n *datacenterSorter) Swap(i, j int) {
	n.Names[i], n.Names[j] = n.Names[j], n.Names[i]
	n.Vec[i], n.Vec[j] = n.Vec[j], n.Vec[i]
}
func (n *datacenterSorter) Less(i, j int) bool { return n.Vec[i] < n.Vec[j] }

// GetDatacentersByDistance is Router.GetDatacentersByDistance (spec §2.8).
func (r *Router) GetDatacentersByDistance() ([]string, error) {
	r.RLock()
	defer r.RUnlock()
	dcs := make(map[string]float64)
	for _, info := range r.areas {
		index := make(map[string][]float64)
		coord, err := info.cluster.GetCoordinate()
		if err != nil {
			return nil, err
		}
		for _, m := range info.cluster.Members() {
			ok, parts := IsConsulServer(m)
			if !ok {
				continue
			}
			if m.Status == serf.StatusLeft {
				continue
			}
			existing := index[parts.Datacenter]
			if parts.Datacenter == r.localDatacenter {
				index[parts.Datacenter] = append(existing, 0.0)
			} else {
				other, _ := info.cluster.GetCachedCoordinate(parts.Name)
				rtt := ComputeDistance(coord, other)
				index[parts.Datacenter] = append(existing, rtt)
			}
		}
		for dc, rtts := range index {
			sort.Float64s(rtts)
			rtt := rtts[len(rtts)/2]
			current, ok := dcs[dc]
			if !ok || (ok && rtt < current) {
				dcs[dc] = rtt
			}
		}
	}
	names := make([]string, 0, len(dcs))
	for dc := range dcs {
		names = append(names, dc)
	}
	sort.Strings(names)
	rtts := make([]float64, 0, len(dcs))
	for _, dc := range names {
		rtts = append(rtts, dcs[dc])
	}
	sort.Stable(&datacenterSorter{names, rtts})
	return names, nil
}

// ---- Consul's router_test.go mockCluster ----

type mockCluster struct {
	self    string
	members []serf.Member
	coords  map[string]*coordinate.Coordinate
	addr    int
}

func newMockCluster(self string) *mockCluster {
	return &mockCluster{self: self, coords: make(map[string]*coordinate.Coordinate), addr: 1}
}

func (m *mockCluster) NumNodes() int          { return len(m.members) }
func (m *mockCluster) Members() []serf.Member { return m.members }
func (m *mockCluster) GetCoordinate() (*coordinate.Coordinate, error) {
	return m.coords[m.self], nil
}
func (m *mockCluster) GetCachedCoordinate(name string) (*coordinate.Coordinate, bool) {
	coord, ok := m.coords[name]
	return coord, ok
}

func (m *mockCluster) AddMember(dc string, name string, coord *coordinate.Coordinate) {
	member := serf.Member{
		Name: fmt.Sprintf("%s.%s", name, dc),
		Addr: net.ParseIP(fmt.Sprintf("127.0.0.%d", m.addr)),
		Port: 8300,
		Tags: map[string]string{
			"dc":    dc,
			"role":  "consul",
			"port":  "8300",
			"build": "0.8.0",
			"vsn":   "3",
		},
	}
	m.members = append(m.members, member)
	if coord != nil {
		m.coords[member.Name] = coord
	}
	m.addr++
}

// generateCoordinate is lib.GenerateCoordinate.
func generateCoordinate(rtt time.Duration) *coordinate.Coordinate {
	coord := coordinate.NewCoordinate(coordinate.DefaultConfig())
	coord.Vec[0] = rtt.Seconds()
	coord.Height = 0
	return coord
}

// testCluster is router_test.go's testCluster.
func testCluster(self string) *mockCluster {
	c := newMockCluster(self)
	c.AddMember("dc0", "node0", generateCoordinate(10*time.Millisecond))
	c.AddMember("dc1", "node1", generateCoordinate(3*time.Millisecond))
	c.AddMember("dc1", "node2", generateCoordinate(2*time.Millisecond))
	c.AddMember("dc1", "node3", generateCoordinate(5*time.Millisecond))
	c.AddMember("dc1", "node4", nil)
	c.AddMember("dc2", "node1", generateCoordinate(8*time.Millisecond))
	c.AddMember("dcX", "node1", nil)
	return c
}

// ---- the harness ----

const (
	measure = 150 * time.Millisecond
	writeHz = 1000
)

var runs = 3

func emit(line map[string]interface{}) {
	line["side"] = "go"
	out, _ := json.Marshal(line)
	fmt.Println(string(out))
}

func median(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}

var sink uint64

// processCPU is the process's user + system CPU time in nanoseconds (the
// garbage collector's threads included).
func processCPU() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// threadCPU is the calling OS thread's CPU time in nanoseconds
// (CLOCK_THREAD_CPUTIME_ID).
func threadCPU() int64 {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// once runs `readers` goroutines calling lookup in batches of 256 for
// `measure`, while this goroutine runs write(i) writeHz times a second on
// an absolute schedule. GOMAXPROCS is readers + 1: one P per reader and one
// for the writer, as the C side has one thread each.
func once(readers int, lookup func() byte, write func(i int)) (ns, readerNs, cpuNs, allocs, wps float64) {
	runtime.GOMAXPROCS(readers + 1)
	var gate, stop int32
	var wg sync.WaitGroup
	ops := make([]int64, readers)
	elapsed := make([]time.Duration, readers)
	cpu := make([]int64, readers)
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			// One OS thread per reader, so its CPU clock is the reader's.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var acc byte
			var n int64
			for atomic.LoadInt32(&gate) == 0 {
				runtime.Gosched()
			}
			t0, c0 := time.Now(), threadCPU()
			for atomic.LoadInt32(&stop) == 0 {
				for i := 0; i < 256; i++ {
					acc += lookup()
				}
				n += 256
			}
			cpu[id] = threadCPU() - c0
			elapsed[id] = time.Since(t0)
			ops[id] = n
			atomic.AddUint64(&sink, uint64(acc))
		}(r)
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	atomic.StoreInt32(&gate, 1)
	start := time.Now()
	next := start
	writes := 0
	for time.Since(start) < measure {
		write(writes)
		writes++
		next = next.Add(time.Second / writeHz)
		time.Sleep(time.Until(next))
	}
	wall := time.Since(start)
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	runtime.ReadMemStats(&ms1)
	if writes%2 == 1 {
		write(writes)
	}
	var total int64
	for r := 0; r < readers; r++ {
		total += ops[r]
		readerNs += float64(elapsed[r].Nanoseconds()) / float64(ops[r]) / float64(readers)
		cpuNs += float64(cpu[r]) / float64(ops[r]) / float64(readers)
	}
	ns = float64(wall.Nanoseconds()) / float64(total)
	allocs = float64(ms1.Mallocs-ms0.Mallocs) / float64(total)
	wps = float64(writes) / wall.Seconds()
	return
}

func lookupFigure(name string, readers int, lookup func() byte, write func(i int)) {
	var ns, rns, cns, al, wps []float64
	for r := 0; r < runs; r++ {
		a, b, c, d, e := once(readers, lookup, write)
		ns, rns, cns, al, wps = append(ns, a), append(rns, b), append(cns, c), append(al, d), append(wps, e)
	}
	emit(map[string]interface{}{"figure": fmt.Sprintf("%s_r%d", name, readers),
		"ns_op": median(ns), "reader_ns_op": median(rns), "reader_cpu_ns_op": median(cns),
		"allocs_op":    median(al),
		"writes_per_s": median(wps), "readers": readers})
}

func server(name, dc string) *Server {
	return &Server{Name: name, ShortName: strings.TrimSuffix(name, "."+dc), Datacenter: dc,
		Port: 8300, Addr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8300}}
}

func lookups() {
	mgr := NewManager()
	for i := 0; i < 5; i++ {
		mgr.AddServer(server(fmt.Sprintf("s%d.dc1", i), "dc1"))
	}
	extra := server("extra.dc1", "dc1")
	router := NewRouter("dc0")
	if err := router.AddArea("wan", testCluster("node0.dc0")); err != nil {
		panic(err)
	}
	findServer := func() byte { return mgr.FindServer().Name[1] }
	writeManager := func(i int) {
		if i%2 == 0 {
			mgr.AddServer(extra)
		} else {
			mgr.RemoveServer(extra)
		}
	}
	findRoute := func() byte {
		_, s, ok := router.FindRoute("dc1")
		if !ok {
			panic("no route")
		}
		return s.Name[4]
	}
	writeRouter := func(i int) {
		var err error
		if i%2 == 0 {
			err = router.AddServer("wan", extra)
		} else {
			err = router.RemoveServer("wan", extra)
		}
		if err != nil {
			panic(err)
		}
	}
	for _, readers := range []int{1, 2, 8} {
		lookupFigure("find_server", readers, findServer, writeManager)
		lookupFigure("find_route", readers, findRoute, writeRouter)
	}
}

func readArea(dir string, k int) *mockCluster {
	f, err := os.Open(filepath.Join(dir, fmt.Sprintf("dist_area%d.txt", k)))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	var c *mockCluster
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 13 {
			panic("bad line: " + sc.Text())
		}
		num := func(s string) float64 {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				panic(err)
			}
			return v
		}
		if c == nil {
			c = newMockCluster(fs[0])
		}
		coord := coordinate.NewCoordinate(coordinate.DefaultConfig())
		coord.Error, coord.Height, coord.Adjustment = num(fs[2]), num(fs[3]), num(fs[4])
		for i := 0; i < 8; i++ {
			coord.Vec[i] = num(fs[5+i])
		}
		c.AddMember(fs[1], strings.TrimSuffix(fs[0], "."+fs[1]), coord)
	}
	return c
}

func byDistance(dir string) {
	runtime.GOMAXPROCS(1)
	router := NewRouter("dc000")
	if err := router.AddArea("wan", readArea(dir, 0)); err != nil {
		panic(err)
	}
	if err := router.AddArea("area2", readArea(dir, 1)); err != nil {
		panic(err)
	}
	names, err := router.GetDatacentersByDistance()
	if err != nil {
		panic(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, "dist_result.txt"))
	if err != nil {
		panic(err)
	}
	same := strings.Join(names, "\n")+"\n" == string(want)
	var ns, cns, al []float64
	for r := 0; r < runs; r++ {
		var lastCPU int64
		res := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			c0 := processCPU()
			for i := 0; i < b.N; i++ {
				if _, err := router.GetDatacentersByDistance(); err != nil {
					b.Fatal(err)
				}
			}
			lastCPU = processCPU() - c0
		})
		ns = append(ns, float64(res.T.Nanoseconds())/float64(res.N))
		cns = append(cns, float64(lastCPU)/float64(res.N))
		al = append(al, float64(res.MemAllocs)/float64(res.N))
	}
	emit(map[string]interface{}{"figure": "dcs_by_distance", "ns_op": median(ns),
		"cpu_ns_op": median(cns),
		"allocs_op": median(al), "datacenters": len(names), "same_result": same})
}

func main() {
	testing.Init()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: router DIR [-test.benchtime=T]")
		os.Exit(2)
	}
	dir := os.Args[1]
	os.Args = append(os.Args[:1], os.Args[2:]...)
	if v, err := strconv.Atoi(os.Getenv("GOCMP_RUNS")); err == nil && v > 0 {
		runs = v
	}
	flag.Parse()
	lookups()
	byDistance(dir)
}
