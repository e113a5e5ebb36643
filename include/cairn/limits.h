/* cairn/limits.h: the size limits every layer shares, each defined once.
 *
 * A node name and a node's Meta (where Serf keeps its tags) cross every
 * layer: wire decodes them, memberlist and the coordinate client key their
 * tables by them, serf and the RPC client hand them out, the agent checks
 * its own. Layers that name the limit in their own vocabulary
 * (CAIRN_ML_META_MAX, CAIRN_WIRE_META_MAX, CAIRN_COORD_NAME_MAX) define it
 * as one of these, never as a number.
 */
#ifndef CAIRN_LIMITS_H
#define CAIRN_LIMITS_H

/* Longest node name, in bytes, cairn accepts from a peer or for itself.
 * memberlist 0.2.2 has no limit; cairn refuses longer names in its
 * decoders rather than hold them in its tables. */
#define CAIRN_NAME_MAX 1024

/* Longest node Meta, in bytes: memberlist's MetaMaxSize. Serf keeps its
 * tags there (0xFF + a msgpack map), so it also bounds one tag. */
#define CAIRN_META_MAX 512

#endif
