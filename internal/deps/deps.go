// SPDX-License-Identifier: Apache-2.0

//go:build tools

// Package deps pins the project's dependencies while the packages that use
// them are being written, so that go.mod and go.sum stay complete.
package deps

import (
	_ "github.com/aws/aws-sdk-go-v2/aws"
	_ "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	_ "github.com/aws/aws-sdk-go-v2/credentials"
	_ "github.com/aws/aws-sdk-go-v2/service/kms"
	_ "github.com/aws/smithy-go"
	_ "github.com/fxamacker/cbor/v2"
	_ "github.com/hf/nsm"
	_ "github.com/hf/nsm/request"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/mdlayher/vsock"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/veraison/go-cose"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/crypto/cryptobyte"
	_ "golang.org/x/sync/errgroup"
)
