// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/jackc/pgx/v5"

	"github.com/enclavekit/enclavekit/internal/pgtest"
	"github.com/enclavekit/enclavekit/internal/proccpu"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
)

const (
	replicaAKID   = "AKIAREPLICATEST00000"
	replicaSecret = "replica-test-secret"
)

// startReplicaChild is startChild without testing.T, for goroutines; the
// error carries the child's log.
func startReplicaChild(cfgPath string) (*child, error) {
	cmd := exec.Command(os.Args[0], "--config", cfgPath, "--listen", "127.0.0.1:0", "--metrics-listen", "off")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	addrc := make(chan string, 1)
	var logMu sync.Mutex
	var log bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			if log.Len() < 64<<10 {
				log.WriteString(sc.Text() + "\n")
			}
			logMu.Unlock()
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "serving KMS" {
				addrc <- m["addr"].(string)
			}
		}
		close(addrc)
		cmd.Wait()
		close(c.done)
	}()
	select {
	case a, ok := <-addrc:
		if ok {
			c.addr = a
			return c, nil
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
	}
	<-c.done
	logMu.Lock()
	defer logMu.Unlock()
	return nil, fmt.Errorf("kms-server child did not start:\n%s", log.String())
}

// replicaSet is N kms-server child processes on one PostgreSQL schema with
// one root key.
type replicaSet struct {
	t       *testing.T
	dbURL   string // the schema, as the servers see it
	cfgs    []string
	mu      sync.Mutex
	kids    []*child
	clients []*awskms.Client
	errs    map[string]int // error kinds seen by clients (retried or final)
}

func (rs *replicaSet) countErr(err error) {
	kind := "transport"
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		kind = ae.ErrorCode()
	}
	rs.mu.Lock()
	rs.errs[kind]++
	rs.mu.Unlock()
}

// writeReplicaConfig writes the config of replica i: same database, same
// root key, same access key; application_name tells its connections apart.
func writeReplicaConfig(t *testing.T, dir string, i int, dbURL string) string {
	t.Helper()
	u := pgtest.WithParam(t, dbURL, "application_name", fmt.Sprintf("enclavekit-replica-%d", i))
	p := filepath.Join(dir, fmt.Sprintf("replica-%d.yaml", i))
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
postgres:
  url: %q
root_key_file: root.key
access_keys:
  - {id: %s, secret: %s, principal: "arn:aws:iam::111122223333:user/replica-test", policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "kms:*", Resource: "*"}]}}
audit_log: audit-%d.jsonl
`, u, replicaAKID, replicaSecret, i)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeRootKey(t *testing.T, dir string) {
	t.Helper()
	var k [32]byte
	rand.Read(k[:])
	if err := os.WriteFile(filepath.Join(dir, "root.key"), fmt.Appendf(nil, "%x\n", k), 0o600); err != nil {
		t.Fatal(err)
	}
}

func replicaClient(addr string) *awskms.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 128
	return awskms.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(replicaAKID, replicaSecret, ""),
		HTTPClient:  sdkhttp.New(&http.Client{Timeout: 10 * time.Second, Transport: tr}),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}, func(o *awskms.Options) { o.BaseEndpoint = aws.String("http://" + addr) })
}

func startReplicas(t *testing.T, n int) *replicaSet {
	t.Helper()
	dir := t.TempDir()
	writeRootKey(t, dir)
	rs := &replicaSet{t: t, dbURL: pgtest.URL(t), errs: map[string]int{}}
	for i := range n {
		rs.cfgs = append(rs.cfgs, writeReplicaConfig(t, dir, i, rs.dbURL))
	}
	// Start them together: the schema migration races between them.
	rs.kids = make([]*child, n)
	rs.clients = make([]*awskms.Client, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := startReplicaChild(rs.cfgs[i])
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
			rs.kids[i] = k
		}()
	}
	wg.Wait()
	for i, k := range rs.kids {
		if k == nil {
			t.Fatalf("replica %d did not start", i)
		}
		rs.clients[i] = replicaClient(k.addr)
	}
	t.Cleanup(func() {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		for _, k := range rs.kids {
			if k != nil {
				k.kill()
			}
		}
	})
	return rs
}

func (rs *replicaSet) client(i int) *awskms.Client {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.clients[i%len(rs.clients)]
}

func (rs *replicaSet) kill(i int) {
	rs.mu.Lock()
	k := rs.kids[i]
	rs.mu.Unlock()
	k.kill()
}

func (rs *replicaSet) restart(i int) {
	k, err := startReplicaChild(rs.cfgs[i])
	if err != nil {
		rs.t.Errorf("replica %d did not restart: %v", i, err)
		return
	}
	rs.mu.Lock()
	rs.kids[i] = k
	rs.clients[i] = replicaClient(k.addr)
	rs.mu.Unlock()
}

// terminateBackend cuts one database connection of replica i with
// pg_terminate_backend, preferring one that is running a statement.
func (rs *replicaSet) terminateBackend(ctx context.Context, i int) (int, error) {
	c, err := pgx.Connect(ctx, pgtest.BaseURL(rs.t))
	if err != nil {
		return 0, err
	}
	defer c.Close(ctx)
	var pid int
	err = c.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1
		ORDER BY (state = 'active') DESC, backend_start LIMIT 1`, fmt.Sprintf("enclavekit-replica-%d", i)).Scan(&pid)
	if err != nil {
		return 0, err
	}
	var ok bool
	if err := c.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
		return 0, fmt.Errorf("pg_terminate_backend(%d): %v %v", pid, ok, err)
	}
	return pid, nil
}

// retryable: the request may not have been served (transport error, a
// killed replica, a 5xx such as DependencyTimeoutException); the client
// tries the next replica. 4xx answers are final.
func retryableErr(err error) bool {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() > 0 && re.HTTPStatusCode() < 500 {
		return false
	}
	return true
}

// do runs fn against replica `first`, then the next ones, until it
// succeeds, fails finally or ctx ends. tries counts the attempts.
func (rs *replicaSet) do(ctx context.Context, first int, fn func(c *awskms.Client) error) (tries int, err error) {
	for attempt := 0; ; attempt++ {
		err = fn(rs.client(first + attempt))
		tries++
		if err != nil && ctx.Err() == nil {
			rs.countErr(err)
		}
		if err == nil || !retryableErr(err) || ctx.Err() != nil || attempt > 30 {
			return tries, err
		}
		time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
	}
}

type ackedDataKey struct {
	keyID string
	ec    map[string]string
	pt    []byte
	blob  []byte
}

type replicaLedger struct {
	mu       sync.Mutex
	keys     []string
	aliases  map[string]string // alias → key ID
	dataKeys []ackedDataKey
	ops      atomic.Int64
	retries  atomic.Int64
}

// TestReplicas is the multi-replica test of issue 8: three kms-server
// processes on one PostgreSQL database, 64 concurrent official clients
// spread over them creating keys, aliases and data keys for
// ENCLAVEKIT_REPLICAS_DURATION (default 4s; 20s for the full run; longer
// when a slow machine needs it for the chaos and enough acknowledged work);
// one replica is killed with SIGKILL (and restarted) and one database
// connection of another is cut with pg_terminate_backend mid-run, each
// event after more acknowledged work. Then
// every acknowledged key and alias exists exactly once and every
// acknowledged data key decrypts to its plaintext through every replica.
func TestReplicas(t *testing.T) {
	dur := 4 * time.Second
	if v := os.Getenv("ENCLAVEKIT_REPLICAS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	const workers = 64
	rs := startReplicas(t, 3)
	led := &replicaLedger{aliases: map[string]string{}}

	// The run lasts at least dur and until the chaos is over and every
	// worker's worth of keys and data keys is acknowledged, however slow
	// the machine; giveUp only turns a hang into a failure.
	begin := time.Now()
	giveUp := begin.Add(dur + 3*time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				replicaWork(ctx, t, rs, led, w, n)
			}
		}()
	}
	// waitUntil polls cond (the workers' progress) every 10ms; false when
	// giveUp passed first.
	waitUntil := func(cond func() bool) bool {
		for !cond() {
			if time.Now().After(giveUp) {
				return false
			}
			time.Sleep(10 * time.Millisecond)
		}
		return true
	}
	// mark returns a condition: frac of dur has passed since the start and
	// the workers acknowledged at least workers/4 more operations since the
	// call, so each event happens under load, on a slow machine too.
	mark := func(frac float64) func() bool {
		at := begin.Add(time.Duration(frac * float64(dur)))
		ops := led.ops.Load() + workers/4
		return func() bool { return !time.Now().Before(at) && led.ops.Load() >= ops }
	}

	// Chaos: SIGKILL replica 2 at 30 %, cut a database connection of
	// replica 0 at 45 %, restart replica 2 at 60 % (of dur, and each after
	// more work).
	var killed, cut atomic.Bool
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		if !waitUntil(mark(0.30)) {
			return
		}
		rs.kill(2)
		killed.Store(true)
		if !waitUntil(mark(0.45)) {
			return
		}
		// Replica 0 holds a connection once it has served a request; the
		// first tries may find none yet.
		waitUntil(func() bool {
			pid, err := rs.terminateBackend(context.Background(), 0)
			if err != nil {
				return false
			}
			t.Logf("terminated backend %d of replica 0", pid)
			cut.Store(true)
			return true
		})
		if !waitUntil(mark(0.60)) {
			return
		}
		rs.restart(2)
	}()
	enough := func() bool {
		led.mu.Lock()
		defer led.mu.Unlock()
		return len(led.keys) >= workers && len(led.dataKeys) >= workers
	}
	ranLongEnough := waitUntil(func() bool {
		select {
		case <-chaosDone:
			return !time.Now().Before(begin.Add(dur)) && enough()
		default:
			return false
		}
	})
	cancel()
	wg.Wait()
	<-chaosDone
	elapsed := time.Since(begin)
	if !killed.Load() || !cut.Load() {
		t.Fatalf("chaos did not happen in %v: killed %v, connection cut %v", elapsed, killed.Load(), cut.Load())
	}
	if !ranLongEnough {
		t.Fatalf("too little work acknowledged in %v: %d keys, %d data keys", elapsed, len(led.keys), len(led.dataKeys))
	}
	dur = elapsed
	t.Logf("%d workers, %v: %d acknowledged operations (%.0f/s), %d retries on another replica; %d keys, %d aliases, %d data keys",
		workers, dur, led.ops.Load(), float64(led.ops.Load())/dur.Seconds(), led.retries.Load(), len(led.keys), len(led.aliases), len(led.dataKeys))
	rs.mu.Lock()
	t.Logf("errors seen by clients (each retried on another replica): %v", rs.errs)
	rs.mu.Unlock()
	verifyReplicas(t, rs, led)
}

func replicaWork(ctx context.Context, t *testing.T, rs *replicaSet, led *replicaLedger, w, n int) {
	first := w + n // spread over the replicas
	var id string
	tries, err := rs.do(ctx, first, func(c *awskms.Client) error {
		out, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String(fmt.Sprintf("w%d-%d", w, n))})
		if err == nil {
			id = *out.KeyMetadata.KeyId
		}
		return err
	})
	led.retries.Add(int64(tries - 1))
	if err != nil {
		if ctx.Err() == nil {
			t.Errorf("CreateKey: final error %v", err)
		}
		return
	}
	led.ops.Add(1)
	led.mu.Lock()
	led.keys = append(led.keys, id)
	led.mu.Unlock()

	alias := fmt.Sprintf("alias/replica-test/w%d-%d", w, n)
	tries, err = rs.do(ctx, first+1, func(c *awskms.Client) error {
		_, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(id)})
		return err
	})
	led.retries.Add(int64(tries - 1))
	var ae *types.AlreadyExistsException
	switch {
	case err == nil:
		led.ops.Add(1)
		led.mu.Lock()
		led.aliases[alias] = id
		led.mu.Unlock()
	case errors.As(err, &ae) && tries > 1:
		// An earlier attempt may have succeeded unacknowledged: not counted.
	case ctx.Err() == nil:
		t.Errorf("CreateAlias %s: final error %v", alias, err)
		return
	default:
		return
	}
	for j := range 2 {
		ec := map[string]string{"worker": fmt.Sprint(w), "n": fmt.Sprint(n), "j": fmt.Sprint(j)}
		var dk *awskms.GenerateDataKeyOutput
		tries, err = rs.do(ctx, first+2+j, func(c *awskms.Client) error {
			out, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(alias),
				KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
			dk = out
			return err
		})
		led.retries.Add(int64(tries - 1))
		if err != nil {
			var nf *types.NotFoundException
			if ctx.Err() == nil && !(errors.As(err, &nf) && led.aliases[alias] == "") {
				t.Errorf("GenerateDataKey: final error %v", err)
			}
			return
		}
		led.ops.Add(1)
		led.mu.Lock()
		led.dataKeys = append(led.dataKeys, ackedDataKey{keyID: id, ec: ec, pt: dk.Plaintext, blob: dk.CiphertextBlob})
		led.mu.Unlock()
	}
}

func verifyReplicas(t *testing.T, rs *replicaSet, led *replicaLedger) {
	ctx := context.Background()
	// Every acknowledged key exactly once in ListKeys, through every replica.
	for r := range 3 {
		c := rs.client(r)
		seen := map[string]int{}
		p := awskms.NewListKeysPaginator(c, &awskms.ListKeysInput{Limit: aws.Int32(1000)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("replica %d ListKeys: %v", r, err)
			}
			for _, k := range page.Keys {
				seen[*k.KeyId]++
			}
		}
		for _, id := range led.keys {
			if seen[id] != 1 {
				t.Fatalf("replica %d: acknowledged key %s listed %d times", r, id, seen[id])
			}
		}
		aliases := map[string][]string{}
		ap := awskms.NewListAliasesPaginator(c, &awskms.ListAliasesInput{Limit: aws.Int32(1000)})
		for ap.HasMorePages() {
			page, err := ap.NextPage(ctx)
			if err != nil {
				t.Fatalf("replica %d ListAliases: %v", r, err)
			}
			for _, a := range page.Aliases {
				aliases[*a.AliasName] = append(aliases[*a.AliasName], aws.ToString(a.TargetKeyId))
			}
		}
		for name, id := range led.aliases {
			if got := aliases[name]; len(got) != 1 || got[0] != id {
				t.Fatalf("replica %d: acknowledged alias %s → %s listed as %v", r, name, id, got)
			}
		}
	}
	// Every acknowledged data key decrypts to its plaintext (spread over
	// the replicas).
	for i, dk := range led.dataKeys {
		out, err := rs.client(i).Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk.blob, EncryptionContext: dk.ec})
		if err != nil {
			t.Fatalf("acknowledged data key under %s does not decrypt: %v", dk.keyID, err)
		}
		if !bytes.Equal(out.Plaintext, dk.pt) || !bytes.HasSuffix([]byte(aws.ToString(out.KeyId)), []byte(dk.keyID)) {
			t.Fatalf("data key under %s decrypts to different plaintext or key %s", dk.keyID, aws.ToString(out.KeyId))
		}
	}
	// Straight from the database: one row per key, one per alias.
	c, err := pgx.Connect(ctx, rs.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var dupKeys, dupAliases int
	c.QueryRow(ctx, `SELECT count(*) FROM (SELECT id FROM keys GROUP BY id HAVING count(*) > 1) d`).Scan(&dupKeys)
	c.QueryRow(ctx, `SELECT count(*) FROM (SELECT name FROM aliases GROUP BY name HAVING count(*) > 1) d`).Scan(&dupAliases)
	if dupKeys != 0 || dupAliases != 0 {
		t.Fatalf("duplicate rows: %d keys, %d aliases", dupKeys, dupAliases)
	}
	t.Logf("verified %d keys, %d aliases, %d data keys through 3 replicas", len(led.keys), len(led.aliases), len(led.dataKeys))
}

// TestReplicasConsistency: a change through one replica is seen by the
// others on their next request (no caching by default).
func TestReplicasConsistency(t *testing.T) {
	rs := startReplicas(t, 3)
	ctx := context.Background()
	out, err := rs.client(0).CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := out.KeyMetadata.KeyId
	for r := range 3 { // usable everywhere at once
		if _, err := rs.client(r).Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: []byte("x")}); err != nil {
			t.Fatalf("replica %d: Encrypt with a key created on replica 0: %v", r, err)
		}
	}
	// A policy change through replica 0 holds on every replica at once.
	pol := `{"Version":"2012-10-17","Statement":[
{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/replica-test"},"Action":"kms:*","Resource":"*"},
{"Sid":"no-encrypt","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/replica-test"},"Action":"kms:Encrypt","Resource":"*"}]}`
	if _, err := rs.client(0).PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: id, PolicyName: aws.String("default"), Policy: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	for r := range 3 {
		_, err := rs.client(r).Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
		var ae interface{ ErrorCode() string }
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
			t.Fatalf("replica %d after PutKeyPolicy on replica 0: %v, want AccessDeniedException", r, err)
		}
	}
	// And lifting it through replica 2 too.
	allow := `{"Version":"2012-10-17","Statement":[
{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/replica-test"},"Action":"kms:*","Resource":"*"}]}`
	if _, err := rs.client(2).PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: id, PolicyName: aws.String("default"), Policy: aws.String(allow)}); err != nil {
		t.Fatal(err)
	}
	for r := range 3 {
		if _, err := rs.client(r).Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: []byte("x")}); err != nil {
			t.Fatalf("replica %d after the deny was lifted on replica 2: %v", r, err)
		}
	}
	if _, err := rs.client(1).DisableKey(ctx, &awskms.DisableKeyInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	for r := range 3 {
		_, err := rs.client(r).Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
		var de *types.DisabledException
		if !errors.As(err, &de) {
			t.Fatalf("replica %d after DisableKey on replica 1: %v, want DisabledException", r, err)
		}
	}
	if _, err := rs.client(2).ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	for r := range 3 {
		d, err := rs.client(r).DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: id})
		if err != nil || d.KeyMetadata.KeyState != types.KeyStatePendingDeletion {
			t.Fatalf("replica %d after ScheduleKeyDeletion on replica 2: %+v %v", r, d, err)
		}
		var se *types.KMSInvalidStateException
		if _, err := rs.client(r).EnableKey(ctx, &awskms.EnableKeyInput{KeyId: id}); !errors.As(err, &se) {
			t.Fatalf("replica %d: EnableKey of a key pending deletion: %v", r, err)
		}
	}
	// Concurrent CreateAlias of one name through the three replicas: one wins.
	errs := make(chan error, 3)
	k2, _ := rs.client(0).CreateKey(ctx, &awskms.CreateKeyInput{})
	for r := range 3 {
		go func() {
			_, err := rs.client(r).CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/one"), TargetKeyId: k2.KeyMetadata.KeyId})
			errs <- err
		}()
	}
	wins := 0
	for range 3 {
		err := <-errs
		var ae *types.AlreadyExistsException
		switch {
		case err == nil:
			wins++
		case !errors.As(err, &ae):
			t.Fatalf("concurrent CreateAlias: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d replicas created alias/one", wins)
	}
}

// TestReplicasThroughput (ENCLAVEKIT_REPLICAS_BENCH=10s) measures, with
// 64 clients: GenerateDataKey (the hot path: one key read per request) and
// CreateKey (one durable write per request), on one replica with the
// directory store, one replica with PostgreSQL and three replicas with
// PostgreSQL; with the CPU
// spent per request by the servers, PostgreSQL and the clients
// (docs/PERFORMANCE.md, "kms-server replicas").
func TestReplicasThroughput(t *testing.T) {
	v := os.Getenv("ENCLAVEKIT_REPLICAS_BENCH")
	if v == "" {
		t.Skip("set ENCLAVEKIT_REPLICAS_BENCH=10s to run")
	}
	dur, err := time.ParseDuration(v)
	if err != nil {
		t.Fatal(err)
	}
	// One replica, directory store.
	dir := t.TempDir()
	writeRootKey(t, dir)
	p := filepath.Join(dir, "dir.yaml")
	os.WriteFile(p, fmt.Appendf(nil, `listen: 127.0.0.1:0
key_store_dir: keys
root_key_file: root.key
access_keys:
  - {id: %s, secret: %s, principal: "arn:aws:iam::111122223333:user/replica-test", policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "kms:*", Resource: "*"}]}}
audit_log: audit.jsonl
`, replicaAKID, replicaSecret), 0o600)
	k := startChild(t, p)
	t.Cleanup(k.kill)
	dirClients := []*awskms.Client{replicaClient(k.addr)}
	dirPids := []int{k.cmd.Process.Pid}
	dirGDK := measure(t, dirClients, dirPids, dur, opGDK)
	dirCK := measure(t, dirClients, dirPids, dur, opCreateKey)
	k.kill()
	one := startReplicas(t, 1)
	onePids := []int{one.kids[0].cmd.Process.Pid}
	oneGDK := measure(t, one.clients, onePids, dur, opGDK)
	oneCK := measure(t, one.clients, onePids, dur, opCreateKey)
	one.kill(0)
	rs := startReplicas(t, 3)
	var pids []int
	for _, k := range rs.kids {
		pids = append(pids, k.cmd.Process.Pid)
	}
	pgGDK := measure(t, rs.clients, pids, dur, opGDK)
	pgCK := measure(t, rs.clients, pids, dur, opCreateKey)
	t.Logf("64 clients, %v per row, GOMAXPROCS %d:", dur, runtime.GOMAXPROCS(0))
	t.Logf("  GenerateDataKey, 1 replica, directory store : %s", dirGDK)
	t.Logf("  GenerateDataKey, 1 replica, PostgreSQL      : %s", oneGDK)
	t.Logf("  GenerateDataKey, 3 replicas, PostgreSQL     : %s", pgGDK)
	t.Logf("  CreateKey,       1 replica, directory store : %s", dirCK)
	t.Logf("  CreateKey,       1 replica, PostgreSQL      : %s", oneCK)
	t.Logf("  CreateKey,       3 replicas, PostgreSQL     : %s", pgCK)
}

const (
	opGDK       = "GenerateDataKey"
	opCreateKey = "CreateKey"
)

type loadResult struct {
	n                  int
	rate               float64
	p50, p99           time.Duration
	server, pg, client time.Duration // CPU per request
}

func (r loadResult) String() string {
	return fmt.Sprintf("%6.0f req/s, p50 %5.1f ms, p99 %5.1f ms; CPU/request: servers %4.0f µs, postgres %4.0f µs, clients %4.0f µs",
		r.rate, ms(r.p50), ms(r.p99), us(r.server), us(r.pg), us(r.client))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// postgresCPU sums the CPU time of every process named postgres.
func postgresCPU(t *testing.T) time.Duration {
	ents, _ := os.ReadDir("/proc")
	var sum time.Duration
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err != nil || strings.TrimSpace(string(b)) != "postgres" {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			sum += procCPU(t, pid)
		}
	}
	return sum
}

func measure(t *testing.T, clients []*awskms.Client, pids []int, dur time.Duration, op string) loadResult {
	ctx := context.Background()
	var ids []*string
	for range 8 {
		out, err := clients[0].CreateKey(ctx, &awskms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, out.KeyMetadata.KeyId)
	}
	serverCPU := func() time.Duration {
		var sum time.Duration
		for _, p := range pids {
			sum += procCPU(t, p)
		}
		return sum
	}
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	s0, p0, c0 := serverCPU(), postgresCPU(t), proccpu.Self()
	start := time.Now()
	end := start.Add(dur)
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clients[w%len(clients)]
			var mine []time.Duration
			for i := 0; time.Now().Before(end); i++ {
				t0 := time.Now()
				var err error
				switch op {
				case opGDK:
					_, err = c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: ids[(w+i)%len(ids)], KeySpec: types.DataKeySpecAes256})
				case opCreateKey:
					_, err = c.CreateKey(ctx, &awskms.CreateKeyInput{})
				}
				if err != nil {
					if errs.Add(1) == 1 {
						t.Logf("%s: first error after %v: %v", op, time.Since(t0), err)
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	s1, p1, c1 := serverCPU(), postgresCPU(t), proccpu.Self()
	if errs.Load() != 0 {
		t.Fatalf("%s: %d errors", op, errs.Load())
	}
	slices.Sort(lat)
	n := len(lat)
	return loadResult{n: n, rate: float64(n) / el.Seconds(), p50: lat[n/2], p99: lat[n*99/100],
		server: (s1 - s0) / time.Duration(n), pg: (p1 - p0) / time.Duration(n), client: (c1 - c0) / time.Duration(n)}
}
