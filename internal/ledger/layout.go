package ledger

import (
	"crypto/sha256"
	"hash/fnv"
	"strconv"
	"time"
)

// Layout constants. Like epochLength, buckets, maxRawField and digestLen decide where and
// as what a reference is stored: changing one forgets every confirmed reference.
const (
	// buckets is the number of hashes a business unit's references of one epoch are
	// spread over. Redis keeps a hash of up to hash-max-listpack-entries (default 512)
	// short fields as a listpack, a few bytes per field; 1024 buckets keep up to about
	// 520,000 confirmations per business unit and epoch in that form.
	buckets = 1024
	// maxRawField and maxRawOwner are the longest reference and owner stored as given;
	// longer ones are stored as a digest, so that no field or value exceeds
	// hash-max-listpack-value (default 64 bytes) and turns its hash into a hashtable.
	// A value is "<13-digit ms>:<owner>": 14 + 40 bytes.
	maxRawField = 32
	maxRawOwner = 40
	// digestLen is the length of a stored digest: a marker byte and 128 bits of SHA-256,
	// so two references share a field only by a SHA-256 collision.
	digestLen = 1 + 16
)

// compact returns s when it is at most limit bytes and does not start with the digest
// marker byte 0x00, else the marker followed by 16 bytes of SHA-256(s). A compacted
// string therefore never equals a string stored as given.
func compact(s string, limit int) string {
	if len(s) <= limit && s[0] != 0 {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "\x00" + string(sum[:digestLen-1])
}

// bucket returns the bucket of reference: FNV-1a of its bytes modulo buckets.
func bucket(reference string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(reference))
	return h.Sum32() % buckets
}

// span is the key set of one call: the reference's bucket in every epoch that may hold
// it, newest first, or only in the recent ones.
type span struct {
	keys    []string
	newest  int64 // epoch of keys[0]; keys[i] is epoch newest-i
	partial bool  // only the recent epochs: ledger.lua answers "look further" if need be
}

// recentEpochs is how many epochs a partial span has: the one after now's, now's and the
// one before, so that an entry moved to the current epoch moments ago is found across an
// epoch's end and this process's clock being off by less than an epoch.
const recentEpochs = 3

// spanOf returns the keys of reference's bucket from the epoch after now's to the one
// before the oldest a retained entry can be in. The margin of one epoch on each side
// lets the script, which decides by the Redis server's clock, find its current epoch and
// every retained one among the keys although this process's clock differs. A partial
// span stops after recentEpochs keys, if the retention reaches further.
//
// Every key is prefix + "{" + businessUnitID + ":" + 3 hex digits of bucket + "}:" +
// epoch in decimal. The part in braces is the Redis Cluster hash tag: all keys of one
// call share a slot, and different buckets of one business unit spread over the cluster.
func spanOf(prefix, businessUnitID, reference string, now time.Time, epoch, retention time.Duration, partial bool) span {
	nowMs, epochMs := now.UnixMilli(), epoch.Milliseconds()
	newest := nowMs/epochMs + 1
	oldest := max((nowMs-retention.Milliseconds())/epochMs-1, 0)
	partial = partial && newest-oldest+1 > recentEpochs
	if partial {
		oldest = newest - recentEpochs + 1
	}

	tag := make([]byte, 0, len(prefix)+len(businessUnitID)+8)
	tag = append(tag, prefix...)
	tag = append(tag, '{')
	tag = append(tag, businessUnitID...)
	tag = append(tag, ':')
	b := bucket(reference)
	tag = append(tag, hexDigit(b>>8), hexDigit(b>>4), hexDigit(b))
	tag = append(tag, '}', ':')

	keys := make([]string, 0, newest-oldest+1)
	for e := newest; e >= oldest; e-- {
		keys = append(keys, string(strconv.AppendInt(tag, e, 10)))
	}
	return span{keys: keys, newest: newest, partial: partial}
}

// hexDigit returns the lowest 4 bits of v as a lowercase hex digit.
func hexDigit(v uint32) byte { return "0123456789abcdef"[v&0xf] }
