package api

// Saved customer groups (crm.groups) and what-if scenarios
// (crm.scenarios) belong to the key or console user that saved them, and
// one rule says who sees and changes them: a private one its owner and
// admins only, a shared one every caller of the operation; only the owner
// or an admin changes or deletes it. Handlers answer an object the caller
// may not see with 404, as a missing one, so ids do not leak.

// canSee reports whether key may see (and use) an object of owner,
// shared or not.
func canSee(owner string, shared bool, key Key) bool {
	return shared || canChange(owner, key)
}

// canChange reports whether key may change or delete an object of owner.
func canChange(owner string, key Key) bool {
	return owner == key.Name || key.Role == RoleAdmin
}
