package main

import "os"

// The HUSH_* environment variables hush reads. This file is the one place
// that reads them: commands take the values from readEnv, and the
// libraries get them through their config (seal.MasterKeyConfig,
// server.Bootstrap's token). A flag given on the command line wins over
// its variable.
//
//	HUSH_ADDR             hush serve: the address to listen on (--addr)
//	HUSH_DATA             hush serve: the data directory (--data)
//	HUSH_STORE            hush serve: the store, a postgres:// URL (--store)
//	HUSH_MASTER_KEY       hush serve and rotate-master-key: the master key,
//	                      used instead of the key file --data/master.key
//	HUSH_NEW_MASTER_KEY   hush serve rotate-master-key: the new master key
//	                      (--new-key-file)
//	HUSH_BOOTSTRAP_TOKEN  hush serve: the first admin's token, used on the
//	                      first start with an empty store only
//
// HUSH_BRIDGE_FILE is not read by hush: hush kernel install writes it into
// a kernelspec, for the Python shim. Tests read HUSH_TEST_* and
// HUSH_REQUIRE_* themselves.
const (
	envAddr           = "HUSH_ADDR"
	envData           = "HUSH_DATA"
	envStore          = "HUSH_STORE"
	envMasterKey      = "HUSH_MASTER_KEY"
	envNewMasterKey   = "HUSH_NEW_MASTER_KEY"
	envBootstrapToken = "HUSH_BOOTSTRAP_TOKEN"
)

// hushEnv holds the values of the HUSH_* variables; "" means unset.
type hushEnv struct {
	addr, data, store       string
	masterKey, newMasterKey string
	bootstrapToken          string
}

// readEnv reads every HUSH_* variable hush uses, once, when a command is
// built.
func readEnv() hushEnv {
	return hushEnv{
		addr:           os.Getenv(envAddr),
		data:           os.Getenv(envData),
		store:          os.Getenv(envStore),
		masterKey:      os.Getenv(envMasterKey),
		newMasterKey:   os.Getenv(envNewMasterKey),
		bootstrapToken: os.Getenv(envBootstrapToken),
	}
}
