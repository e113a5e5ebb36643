// gocmp_export.go is copied by bench/go/run.sh into a scratch copy of
// memberlist 0.2.2 (never into the Debian tree, never committed there). It
// only gives memberlist's unexported codec entry points and message types
// exported names, so that the harness in the serf package
// (bench/go/serf/gocmp_test.go) can call them; every function forwards to
// memberlist's own code, or repeats the few encoding lines of
// sendLocalState / readStream that are not a function of their own.

package memberlist

import (
	"bufio"
	"bytes"
	"fmt"

	"github.com/hashicorp/go-msgpack/codec"
)

// Message types (net.go).
type (
	GocmpPing          = ping
	GocmpIndirectPing  = indirectPingReq
	GocmpAck           = ackResp
	GocmpNack          = nackResp
	GocmpErr           = errResp
	GocmpSuspect       = suspect
	GocmpAlive         = alive
	GocmpDead          = dead
	GocmpPushNodeState = pushNodeState
)

// GocmpEncode is util.go's encode.
func GocmpEncode(t int, in interface{}) (*bytes.Buffer, error) { return encode(messageType(t), in) }

// GocmpDecode is util.go's decode.
func GocmpDecode(buf []byte, out interface{}) error { return decode(buf, out) }

// GocmpMakeCompound is util.go's makeCompoundMessage.
func GocmpMakeCompound(msgs [][]byte) *bytes.Buffer { return makeCompoundMessage(msgs) }

// GocmpDecodeCompound is util.go's decodeCompoundMessage.
func GocmpDecodeCompound(buf []byte) (int, [][]byte, error) { return decodeCompoundMessage(buf) }

// GocmpCompress is util.go's compressPayload (09 + {Algo, Buf}).
func GocmpCompress(in []byte) (*bytes.Buffer, error) { return compressPayload(in) }

// GocmpDecompress is util.go's decompressPayload (the bytes after 09).
func GocmpDecompress(msg []byte) ([]byte, error) { return decompressPayload(msg) }

// GocmpEncrypt is security.go's encryptPayload at version 1 with no
// additional data, as rawSendMsgPacket calls it.
func GocmpEncrypt(key, msg []byte, dst *bytes.Buffer) error {
	return encryptPayload(1, key, msg, nil, dst)
}

// GocmpDecrypt is security.go's decryptPayload, as ingestPacket calls it.
func GocmpDecrypt(keys [][]byte, msg []byte) ([]byte, error) {
	return decryptPayload(keys, msg, nil)
}

// GocmpSendLocalState writes what sendLocalState hands to rawSendMsgStream:
// the 06 type byte, the header, every node state, the user state (the
// lines of net.go's sendLocalState after the node list is built).
func GocmpSendLocalState(localNodes []pushNodeState, userData []byte, join bool) ([]byte, error) {
	bufConn := bytes.NewBuffer(nil)
	header := pushPullHeader{Nodes: len(localNodes), UserStateLen: len(userData), Join: join}
	hd := codec.MsgpackHandle{}
	enc := codec.NewEncoder(bufConn, &hd)
	if _, err := bufConn.Write([]byte{byte(pushPullMsg)}); err != nil {
		return nil, err
	}
	if err := enc.Encode(&header); err != nil {
		return nil, err
	}
	for i := 0; i < header.Nodes; i++ {
		if err := enc.Encode(&localNodes[i]); err != nil {
			return nil, err
		}
	}
	if userData != nil {
		if _, err := bufConn.Write(userData); err != nil {
			return nil, err
		}
	}
	return bufConn.Bytes(), nil
}

var gocmpML = &Memberlist{config: DefaultLANConfig()}

// GocmpReadRemoteState reads one push-pull stream as handleConn does for an
// unencrypted, uncompressed stream: a bufio.Reader over the connection, the
// type byte (readStream), a msgpack decoder, then memberlist's own
// readRemoteState.
func GocmpReadRemoteState(stream []byte) ([]pushNodeState, []byte, error) {
	bufConn := bufio.NewReader(bytes.NewReader(stream))
	buf := [1]byte{0}
	if _, err := bufConn.Read(buf[:]); err != nil {
		return nil, nil, err
	}
	if messageType(buf[0]) != pushPullMsg {
		return nil, nil, fmt.Errorf("not a push-pull: %d", buf[0])
	}
	hd := codec.MsgpackHandle{}
	dec := codec.NewDecoder(bufConn, &hd)
	_, nodes, user, err := gocmpML.readRemoteState(bufConn, dec)
	return nodes, user, err
}
