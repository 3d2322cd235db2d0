// SPDX-License-Identifier: Apache-2.0

package postgres_test

import (
	"context"
	"errors"
	"log"
	"os"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
)

// A kms-server replica on a shared database: kmsserver.Config.Postgres makes the
// server open (and migrate) the store itself.
func ExampleOpen() {
	cfg := &kmsserver.Config{
		Postgres: &postgres.Config{URL: os.Getenv("KMS_POSTGRES_URL"), OperationTimeout: 3 * time.Second},
		RootKey:  make([]byte, 32), // the operator's root key: the same on every replica
		AccessKeys: map[string]kmsserver.AccessKey{
			"AKIAEXAMPLE000000000": {Secret: "secret", PrincipalARN: "arn:aws:iam::111122223333:user/app"},
		},
	}
	_ = cfg // kmsserver.NewServer(cfg)

	// The store on its own.
	s, err := postgres.Open(context.Background(), &postgres.Config{URL: os.Getenv("KMS_POSTGRES_URL")})
	if errors.Is(err, keystore.ErrUnavailable) {
		log.Print("database unreachable; retry later")
		return
	}
	if err != nil {
		log.Print(err)
		return
	}
	defer s.Close()
}
