package serving

import "hash/fnv"

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
