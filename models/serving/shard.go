package serving

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// ShardOf is the shard, in [0, n), of a customer id when a snapshot is
// split into n shards by subscriber hash (FNV-1a of the id): the api
// instance that holds the customer in a shard-per-instance layout.
func ShardOf(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// Split divides customers into n shards by ShardOf, keeping their order
// (so each shard stays sorted by id when the whole is).
func Split(customers []Customer, n int) [][]Customer {
	out := make([][]Customer, n)
	for _, c := range customers {
		k := ShardOf(c.SubscriberID, n)
		out[k] = append(out[k], c)
	}
	return out
}

// Environment of the sharded layout, the same names in the template and
// the local stack.
const (
	// EnvShards lists the shard numbers of the layout, comma-separated:
	// "0,1,...,n-1" (the template's ServingShards); unset or "0": one,
	// unsharded. The score function writes runs in that many shards and
	// the api functions serve them.
	EnvShards = "TELCOLAKE_SERVING_SHARDS"
	// EnvShard is the shard an api shard function serves (unset on the
	// public api function).
	EnvShard = "TELCOLAKE_SERVING_SHARD"
)

// ShardsFromEnv is the shard count EnvShards names (1 when unset), and an
// error naming the variable unless it lists exactly 0 to n-1.
func ShardsFromEnv(getenv func(string) string) (int, error) {
	v := strings.TrimSpace(getenv(EnvShards))
	if v == "" {
		return 1, nil
	}
	parts := strings.Split(v, ",")
	if len(parts) > MaxShards {
		return 0, fmt.Errorf("%s: %d shards, at most %d", EnvShards, len(parts), MaxShards)
	}
	for k, p := range parts {
		if strings.TrimSpace(p) != strconv.Itoa(k) {
			return 0, fmt.Errorf("%s=%q: want the shard numbers 0,1,...,n-1 in order", EnvShards, v)
		}
	}
	return len(parts), nil
}
