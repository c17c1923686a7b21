package web

import "github.com/telcolake/telcolake/lake"

// LakeStores are the console's stores in an open lake: the model
// registry's files, the sign-out records (console/) and, when the lake is
// on S3, the landing bucket's reject reports.
func LakeStores(conn *lake.Conn) Stores {
	st := Stores{Models: conn.Models(), Revoked: conn.Console()}
	if conn.S3 != nil {
		st.Landing = BucketFiles(conn.Landing().Get, conn.Cfg.LandingBucket)
	}
	return st
}
