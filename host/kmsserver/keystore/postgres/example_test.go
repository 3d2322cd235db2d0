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

// A kms-server replica on a shared database: open (and migrate) the store,
// then give it to the server. Every replica gets the same database and the
// same root key.
func ExampleOpen() {
	s, err := postgres.Open(context.Background(), &postgres.Config{URL: os.Getenv("KMS_POSTGRES_URL"), OperationTimeout: 3 * time.Second})
	if errors.Is(err, keystore.ErrUnavailable) {
		log.Print("database unreachable; retry later")
		return
	}
	if err != nil {
		log.Print(err)
		return
	}
	defer s.Close()
	srv, err := kmsserver.NewServer(&kmsserver.Config{
		Store:   s,
		RootKey: make([]byte, 32), // the operator's root key: the same on every replica
		AccessKeys: map[string]kmsserver.AccessKey{
			"AKIAEXAMPLE000000000": {Secret: "secret", PrincipalARN: "arn:aws:iam::111122223333:user/app", Policy: kmsserver.FullAccessPolicy},
		},
	})
	if err != nil {
		log.Print(err)
		return
	}
	_ = srv // srv.Listen(), then srv.Serve(ctx)
}
