// gocmp_test.go: the Go side of cairn's codec and coordinate comparison.
// bench/go/run.sh copies it into a scratch copy of serf 0.9.4's serf
// package (next to a scratch memberlist 0.2.2 carrying
// bench/go/memberlist/gocmp_export.go) and runs
//
//	GOCMP_DIR=<dir> go test -run TestGocmp -test.benchtime=<t>
//
// where <dir> holds the inputs gocmp_codec wrote. Every figure decodes the
// bytes cairn encoded, with memberlist's and serf's own decode paths, and
// encodes the struct so decoded with their own encode paths; it prints one
// JSON object per figure:
//
//	{"side":"go","figure":...,"ns_op":...,"allocs_op":...,"same_bytes":...}
//
// same_bytes says whether Go's encoding equals cairn's byte for byte (it
// cannot for messages holding Go maps, whose order is random).
package serf

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/codec"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/coordinate"
)

var gocmpDir string

func gocmpRead(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join(gocmpDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gocmpCPU is the process's user + system CPU time (every thread: the
// garbage collector's work counts).
func gocmpCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// gocmpMeasure runs fn under testing.Benchmark GOCMP_RUNS times (3) and
// prints the median ns/op (wall), cpu_ns_op and allocs/op.
func gocmpMeasure(t *testing.T, figure string, same interface{}, fn func(b *testing.B)) {
	// GOCMP_ONLY=text: only the figures whose name contains text, as on
	// cairn's side.
	if only := os.Getenv("GOCMP_ONLY"); only != "" && !strings.Contains(figure, only) {
		return
	}
	runs := 3
	if v, err := strconv.Atoi(os.Getenv("GOCMP_RUNS")); err == nil && v > 0 {
		runs = v
	}
	var ns, cpu, allocs []float64
	for r := 0; r < runs; r++ {
		// The process CPU time of the closure's last invocation, which
		// is the one testing.Benchmark reports (its N is res.N).
		var lastCPU time.Duration
		var lastN int
		res := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			c0 := gocmpCPU()
			fn(b)
			lastCPU, lastN = gocmpCPU()-c0, b.N
		})
		if res.N == 0 || lastN != res.N {
			t.Fatalf("%s: benchmark failed", figure)
		}
		ns = append(ns, float64(res.T.Nanoseconds())/float64(res.N))
		cpu = append(cpu, float64(lastCPU.Nanoseconds())/float64(res.N))
		allocs = append(allocs, float64(res.MemAllocs)/float64(res.N))
	}
	sort.Float64s(ns)
	sort.Float64s(cpu)
	sort.Float64s(allocs)
	line := map[string]interface{}{"side": "go", "figure": figure,
		"ns_op": ns[runs/2], "cpu_ns_op": cpu[runs/2], "allocs_op": allocs[runs/2]}
	if same != nil {
		line["same_bytes"] = same
	}
	out, _ := json.Marshal(line)
	fmt.Println(string(out))
}

// A memberlist message: decode(buf[1:]) into a fresh struct, as
// handleCommand does; encode(type, &struct), as encodeAndSendMsg does.
func gocmpML(t *testing.T, name string, newMsg func() interface{}) {
	wire := gocmpRead(t, name+".bin")
	msg := newMsg()
	if err := memberlist.GocmpDecode(wire[1:], msg); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	enc, err := memberlist.GocmpEncode(int(wire[0]), msg)
	if err != nil {
		t.Fatal(err)
	}
	gocmpMeasure(t, name+"_encode", bytes.Equal(enc.Bytes(), wire), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := memberlist.GocmpEncode(int(wire[0]), msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	gocmpMeasure(t, name+"_decode", nil, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := memberlist.GocmpDecode(wire[1:], newMsg()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A serf message: decodeMessage(buf[1:]) and encodeMessage(type, msg), as
// serf's handleUserMsg and broadcast paths do.
func gocmpSerf(t *testing.T, name string, newMsg func() interface{}) {
	wire := gocmpRead(t, name+".bin")
	msg := newMsg()
	if err := decodeMessage(wire[1:], msg); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	enc, err := encodeMessage(messageType(wire[0]), msg)
	if err != nil {
		t.Fatal(err)
	}
	gocmpMeasure(t, name+"_encode", bytes.Equal(enc, wire), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := encodeMessage(messageType(wire[0]), msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	gocmpMeasure(t, name+"_decode", nil, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := decodeMessage(wire[1:], newMsg()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The ack carrying serf's coordinate: serf's AckPayload (version byte plus
// the msgpack Coordinate) wrapped by memberlist's ack; decoding is
// memberlist's handleAck then serf's NotifyPingComplete.
func gocmpAckCoord(t *testing.T) {
	wire := gocmpRead(t, "ml_ack_coord.bin")
	var ack memberlist.GocmpAck
	if err := memberlist.GocmpDecode(wire[1:], &ack); err != nil {
		t.Fatal(err)
	}
	var coord coordinate.Coordinate
	if err := codec.NewDecoder(bytes.NewReader(ack.Payload[1:]), &codec.MsgpackHandle{}).Decode(&coord); err != nil {
		t.Fatal(err)
	}
	encode := func() ([]byte, error) {
		var buf bytes.Buffer
		buf.Write([]byte{PingVersion})
		enc := codec.NewEncoder(&buf, &codec.MsgpackHandle{})
		if err := enc.Encode(&coord); err != nil {
			return nil, err
		}
		a := memberlist.GocmpAck{SeqNo: ack.SeqNo, Payload: buf.Bytes()}
		out, err := memberlist.GocmpEncode(int(wire[0]), &a)
		if err != nil {
			return nil, err
		}
		return out.Bytes(), nil
	}
	first, err := encode()
	if err != nil {
		t.Fatal(err)
	}
	gocmpMeasure(t, "ml_ack_coord_encode", bytes.Equal(first, wire), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := encode(); err != nil {
				b.Fatal(err)
			}
		}
	})
	gocmpMeasure(t, "ml_ack_coord_decode", nil, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var a memberlist.GocmpAck
			if err := memberlist.GocmpDecode(wire[1:], &a); err != nil {
				b.Fatal(err)
			}
			var c coordinate.Coordinate
			r := bytes.NewReader(a.Payload[1:])
			if err := codec.NewDecoder(r, &codec.MsgpackHandle{}).Decode(&c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Push-pull at N members: encode = serf's LocalState encodeMessage of the
// state, then memberlist's sendLocalState stream; decode = memberlist's
// readStream + readRemoteState, then serf's MergeRemoteState decodeMessage.
func gocmpPushPull(t *testing.T, name string) {
	wire := gocmpRead(t, name+".bin")
	nodes, user, err := memberlist.GocmpReadRemoteState(wire)
	if err != nil {
		t.Fatal(err)
	}
	var pp messagePushPull
	if err := decodeMessage(user[1:], &pp); err != nil {
		t.Fatal(err)
	}
	encode := func() ([]byte, error) {
		state, err := encodeMessage(messagePushPullType, &pp)
		if err != nil {
			return nil, err
		}
		return memberlist.GocmpSendLocalState(nodes, state, false)
	}
	first, err := encode()
	if err != nil {
		t.Fatal(err)
	}
	same := len(first) == len(wire) // StatusLTimes is a Go map: random order
	gocmpMeasure(t, name+"_encode", same, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := encode(); err != nil {
				b.Fatal(err)
			}
		}
	})
	gocmpMeasure(t, name+"_decode", nil, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, u, err := memberlist.GocmpReadRemoteState(wire)
			if err != nil {
				b.Fatal(err)
			}
			var p messagePushPull
			if err := decodeMessage(u[1:], &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The relay: encodeRelayMessage (header + the inner query response, encoded
// by it); decoding is handleUserMsg's relay branch (header, then a copy of
// the rest).
func gocmpRelay(t *testing.T) {
	wire := gocmpRead(t, "serf_relay.bin")
	decode := func() (relayHeader, []byte, error) {
		var header relayHeader
		var handle codec.MsgpackHandle
		reader := bytes.NewReader(wire[1:])
		decoder := codec.NewDecoder(reader, &handle)
		if err := decoder.Decode(&header); err != nil {
			return header, nil, err
		}
		raw := make([]byte, reader.Len())
		reader.Read(raw)
		return header, raw, nil
	}
	header, raw, err := decode()
	if err != nil {
		t.Fatal(err)
	}
	var inner messageQueryResponse
	if err := decodeMessage(raw[1:], &inner); err != nil {
		t.Fatal(err)
	}
	first, err := encodeRelayMessage(messageType(raw[0]), header.DestAddr, header.DestName, &inner)
	if err != nil {
		t.Fatal(err)
	}
	gocmpMeasure(t, "serf_relay_encode", bytes.Equal(first, wire), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := encodeRelayMessage(messageType(raw[0]), header.DestAddr, header.DestName, &inner); err != nil {
				b.Fatal(err)
			}
		}
	})
	gocmpMeasure(t, "serf_relay_decode", nil, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, err := decode(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The gossip compound: each alive encoded (encodeAndBroadcast), then
// makeCompoundMessage (gossip); decoding is decodeCompoundMessage and
// decode of each part (handleCompound -> handleCommand -> handleAlive).
func gocmpCompound(t *testing.T) {
	wire := gocmpRead(t, "gossip_compound.bin")
	_, parts, err := memberlist.GocmpDecodeCompound(wire[1:])
	if err != nil {
		t.Fatal(err)
	}
	alives := make([]memberlist.GocmpAlive, len(parts))
	for i, p := range parts {
		if err := memberlist.GocmpDecode(p[1:], &alives[i]); err != nil {
			t.Fatal(err)
		}
	}
	encode := func() ([]byte, error) {
		msgs := make([][]byte, 0, len(alives))
		for i := range alives {
			b, err := memberlist.GocmpEncode(int(parts[i][0]), &alives[i])
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, b.Bytes())
		}
		return memberlist.GocmpMakeCompound(msgs).Bytes(), nil
	}
	first, err := encode()
	if err != nil {
		t.Fatal(err)
	}
	gocmpMeasure(t, "gossip_compound_encode", bytes.Equal(first, wire), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := encode(); err != nil {
				b.Fatal(err)
			}
		}
	})
	gocmpMeasure(t, "gossip_compound_decode", nil, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, ps, err := memberlist.GocmpDecodeCompound(wire[1:])
			if err != nil || len(ps) != len(parts) {
				b.Fatal(err)
			}
			for _, p := range ps {
				var a memberlist.GocmpAlive
				if err := memberlist.GocmpDecode(p[1:], &a); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// LZW (compressPayload / decompressPayload) and AES-GCM (encryptPayload /
// decryptPayload) of a source message, fed cairn's compressed and sealed
// bytes for the reverse direction.
func gocmpFrame(t *testing.T, src string, key []byte) {
	plain := gocmpRead(t, src+".bin")
	lzw := gocmpRead(t, "lzw_"+src+".bin")
	out, err := memberlist.GocmpDecompress(lzw[1:])
	if err != nil || !bytes.Equal(out, plain) {
		t.Fatalf("lzw %s: %v", src, err)
	}
	first, err := memberlist.GocmpCompress(plain)
	if err != nil {
		t.Fatal(err)
	}
	gocmpMeasure(t, "lzw_"+src+"_compress", bytes.Equal(first.Bytes(), lzw), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := memberlist.GocmpCompress(plain); err != nil {
				b.Fatal(err)
			}
		}
	})
	gocmpMeasure(t, "lzw_"+src+"_decompress", nil, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := memberlist.GocmpDecompress(lzw[1:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	sealed := gocmpRead(t, "aes_"+src+".bin")
	keys := [][]byte{key}
	out, err = memberlist.GocmpDecrypt(keys, sealed)
	if err != nil || !bytes.Equal(out, plain) {
		t.Fatalf("aes %s: %v", src, err)
	}
	gocmpMeasure(t, "aes_"+src+"_encrypt", nil, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var buf bytes.Buffer
			if err := memberlist.GocmpEncrypt(key, plain, &buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	gocmpMeasure(t, "aes_"+src+"_decrypt", nil, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := memberlist.GocmpDecrypt(keys, sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The Vivaldi update over the peers cairn measured, in the same order.
func gocmpCoord(t *testing.T) {
	f, err := os.Open(filepath.Join(gocmpDir, "coord_peers.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type peer struct {
		name  string
		coord *coordinate.Coordinate
		rtt   time.Duration
	}
	var peers []peer
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 13 {
			t.Fatalf("coord_peers.txt: %q", sc.Text())
		}
		num := func(s string) float64 {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		rtt, _ := strconv.ParseInt(fs[1], 10, 64)
		c := coordinate.NewCoordinate(coordinate.DefaultConfig())
		c.Error, c.Height, c.Adjustment = num(fs[2]), num(fs[3]), num(fs[4])
		for k := 0; k < 8; k++ {
			c.Vec[k] = num(fs[5+k])
		}
		peers = append(peers, peer{fs[0], c, time.Duration(rtt)})
	}
	client, err := coordinate.NewClient(coordinate.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	next := 0
	gocmpMeasure(t, "coord_update", nil, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			p := &peers[next]
			next = (next + 1) % len(peers)
			if _, err := client.Update(p.name, p.coord, p.rtt); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestGocmp(t *testing.T) {
	gocmpDir = os.Getenv("GOCMP_DIR")
	if gocmpDir == "" {
		t.Skip("GOCMP_DIR not set (bench/go/run.sh sets it)")
	}
	ml := []struct {
		name string
		new  func() interface{}
	}{
		{"ml_ping", func() interface{} { return new(memberlist.GocmpPing) }},
		{"ml_indirect_ping", func() interface{} { return new(memberlist.GocmpIndirectPing) }},
	}
	for _, c := range ml {
		gocmpML(t, c.name, c.new)
	}
	gocmpAckCoord(t)
	ml = []struct {
		name string
		new  func() interface{}
	}{
		{"ml_suspect", func() interface{} { return new(memberlist.GocmpSuspect) }},
		{"ml_alive", func() interface{} { return new(memberlist.GocmpAlive) }},
		{"ml_dead", func() interface{} { return new(memberlist.GocmpDead) }},
		{"ml_nack", func() interface{} { return new(memberlist.GocmpNack) }},
		{"ml_err", func() interface{} { return new(memberlist.GocmpErr) }},
	}
	for _, c := range ml {
		gocmpML(t, c.name, c.new)
	}
	sf := []struct {
		name string
		new  func() interface{}
	}{
		{"serf_leave", func() interface{} { return new(messageLeave) }},
		{"serf_join", func() interface{} { return new(messageJoin) }},
		{"serf_user_event", func() interface{} { return new(messageUserEvent) }},
		{"serf_query", func() interface{} { return new(messageQuery) }},
		{"serf_query_response", func() interface{} { return new(messageQueryResponse) }},
		{"serf_conflict_response", func() interface{} { return new(Member) }},
		{"serf_key_request", func() interface{} { return new(keyRequest) }},
		{"serf_key_response", func() interface{} { return new(nodeKeyResponse) }},
	}
	for _, c := range sf {
		gocmpSerf(t, c.name, c.new)
	}
	gocmpRelay(t)
	for _, n := range []string{"ml_pushpull_10", "ml_pushpull_1000", "ml_pushpull_10000"} {
		gocmpPushPull(t, n)
	}
	gocmpCompound(t)
	key := gocmpRead(t, "aes.key")
	gocmpFrame(t, "gossip_compound", key)
	gocmpFrame(t, "ml_pushpull_1000", key)
	gocmpCoord(t)
}
