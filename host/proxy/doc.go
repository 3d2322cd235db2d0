// SPDX-License-Identifier: Apache-2.0

// Package proxy is host-proxy, the parent instance's connection proxy for
// Nitro Enclaves: a drop-in for AWS's vsock-proxy that carries several routes
// in one process, in both directions.
//
// # Routes
//
// An egress route listens where the enclave connects (a vsock port on the
// parent, vsock://any:PORT) and forwards each connection to an allow-listed
// TCP destination. An ingress route listens on the host network and forwards
// into the enclave (vsock://CID:PORT), e.g. to expose the agent's attestation
// endpoint. Every listen and destination address is an
// internal/transport address, so each route also works over TCP and unix
// sockets for development and tests. An egress route authenticates no one,
// so its TCP listener must be loopback: on an interface (tcp://0.0.0.0:PORT)
// it would relay the network to every allow-listed destination, and [New]
// refuses it (host-proxy's --listen included).
// Ingress listeners face outside clients by design and may be on any
// interface.
//
// # Allow-list
//
// Egress destinations must be on the allow-list (vsock-proxy's format,
// entries {address, port}). An entry's address is a DNS name, an IP address or
// a CIDR prefix. [New] refuses a route whose destination has no matching
// entry and says which entry to add. At connection time a destination name
// is resolved (see DNS below) and every address is checked again:
//
//  1. an IP or CIDR entry covering the address on the port allows it,
//     but an address rule 2 refuses only when the entry names it or a
//     prefix within its special range (127.0.0.0/8, 169.254.0.0/16, the
//     interface address itself, ...): a wide entry such as
//     {0.0.0.0/0, 80} does not let DNS steer a name route on port 80 to
//     the parent;
//  2. a loopback, link-local (including the instance metadata service
//     169.254.169.254), unspecified or "this network" (all of 0.0.0.0/8:
//     Linux connects 0.0.0.0 to the host itself, and since Linux 5.3
//     assigns the rest of 0.0.0.0/8 to interfaces), multicast or
//     broadcast address, an
//     address of one of the parent's own interfaces (its VPC address,
//     docker0, ...: its services bound to 0.0.0.0 answer there), or an IPv6
//     form carrying such an IPv4 address (IPv4-compatible ::a.b.c.d; NAT64,
//     the well-known prefix 64:ff9b::/96 of RFC 6052 and the local-use
//     prefix 64:ff9b:1::/48 of RFC 8215, both with the IPv4 address in the
//     last 32 bits; 6to4 2002::/16; Teredo 2001::/32) is refused unless
//     rule 1 allowed it — DNS must not steer the enclave to the parent
//     itself. A Teredo address (RFC 4380) carries two IPv4 addresses, its
//     server's in bits 32-63 and its client's, inverted, in the last 32
//     bits; a relay sends the packets to the client's address and its
//     bubbles, to open a NAT, through the server's, so the address is
//     refused when either IPv4 address is, and rule 1 must name it within
//     the IPv6 forms of both ranges;
//  3. a name entry for the destination name and port allows whatever the
//     name resolves to at check time.
//
// Rule 2 applies to DNS answers only: a route whose destination is an IP
// address is the operator's explicit choice, allowed by any IP or CIDR
// entry covering it, and is not checked against it. The interface
// addresses are read when the proxy is created and again at most every
// 30 s (on a goroutine started by a check that finds them older, which
// [Proxy.Serve] waits for as it does for DNS lookups), never per
// connection.
//
// Refused addresses are logged and counted; when no address is left the
// connection is closed. A name entry that could never allow anything is a
// configuration error: [New] refuses names that resolve to loopback or the
// metadata service by definition (localhost, *.localhost, instance-data,
// ...) unless their addresses are listed (narrowly, as rule 1 asks), and
// [Proxy.CheckNames] (run by host-proxy at start-up and with --check)
// refuses a name whose every current answer rule 2 refuses.
//
// # DNS
//
// By default a destination name is resolved by asking the servers of
// /etc/resolv.conf directly (github.com/miekg/dns), A and AAAA records,
// following CNAMEs, and the answer is used for the records' TTL (the
// smallest along the chain), at least [MinDNSTTL] (5 s) and at most
// [Config].DNSRefresh (default 5 min). When that query fails, or the name is
// not in DNS (it may be in /etc/hosts), Go's resolver answers and the answer
// is kept for [FallbackDNSRefresh] (30 s, or DNSRefresh when shorter). A
// [Config].Resolver replaces both; if it implements [TTLResolver] its TTLs
// are used the same way. Every answer is checked against the allow-list
// before it is dialled. A failed refresh keeps the previous answer (logged)
// and retries sooner; with no previous answer the failure is kept for
// [MinDNSTTL], so a storm of connections to a failing name makes one
// lookup. A lookup runs under its own timeout: a connection that gives up
// waiting leaves it running for the next one, and never extends an expired
// answer. It does not outlive the proxy: once the connections are drained,
// [Proxy.Serve] cancels the lookups still running and waits for them before
// it returns, up to 5 s: a [Config].Resolver that ignores its context is
// left running then, and Serve logs how many lookups it left. No restart
// is ever needed.
//
// # Data path
//
// On Linux the routes are served by an event engine: one worker per
// GOMAXPROCS but one (at least one), each a goroutine locked to its thread
// and waiting in its own epoll set (golang.org/x/sys/unix; gnet and
// similar libraries have no AF_VSOCK, no half-close and no splice, which a
// proxy needs). The P left over keeps Go's runtime from handing the P of
// a worker blocked in epoll_wait to another thread at every wait. Every
// route's listening socket, TCP, unix or vsock, sits outside Go's
// netpoller in the first worker's set, which accepts (one accept4 per
// event; the listener is level-triggered) and keeps the connection unless
// another worker serves more than two connections fewer; then the least
// loaded worker is handed it through its inbox (one message, at most one
// eventfd write; a worker is handed connections only while it counts
// fewer than the acceptor, whose count the routes' limits bound, so that
// queue is bounded too). So a burst of connections is
// spread evenly, and one connection at a time stays on one thread. (With
// every worker accepting through EPOLLEXCLUSIVE, the worker that happened
// to be waiting took most of a burst: 64 connections landed 8/56 or 63/1
// on two workers.) A worker that has ended refuses hand-offs, and closes
// any still queued to it. The worker serving a connection does so from
// then on, with no other thread involved and its non-blocking system calls
// made without the runtime's bookkeeping (so is its wait while it is busy,
// for at most 5 ms at a time; an idle worker waits as a system call). An
// accept error such as EMFILE is logged and counted, and the worker stops
// accepting on that listener for a backoff (5 ms doubling to 1 s) rather
// than spinning on it.
//
// Each connection then goes through the goroutine path's checks, in its
// order and with its logs and metrics: the peer (allowed_cids), its
// source's share of the route (max_connections_per_source, below), a slot
// of its route's concurrency limit (max_connections, vsock-proxy's -w),
// then the destination. A connection that finds no free slot waits up to
// the connect timeout in its route's queue, then is closed with a logged
// reason; at most max_connections connections wait, and a released slot
// goes to the first in the queue. A waiting (or resolving, or connecting)
// connection whose client resets, or closes without having sent a byte, is
// dropped at once, freeing its place (the goroutine path finds out only
// when it starts copying); a client that sent its request and then
// half-closed is served.
//
// One source, an IPv4 address, an IPv6 /64 prefix or a vsock context ID,
// holds at most max_connections_per_source of a route's slots and wait
// places together; its further connections are refused at once (reason
// source_limit). The count is a map under the lock the slot check takes
// anyway. By default the limit applies to TCP ingress routes only, the
// listeners that face outside clients, at a sixteenth of max_connections
// (at least 1): one address cannot take every slot and wait place, 32
// addresses are needed. An egress route's client is the enclave, one
// source, and a unix socket's peers have no address, so neither has a
// limit unless set (a positive value on a unix listener is a configuration
// error). Behind a load balancer that connects from its own address every
// client is one source: turn the limit off there with -1
// ([PerSourceUnlimited]). A destination that needs no lookup (an
// IP address, a unix or vsock address, or a name whose allow-listed answer
// is current) is connected from the worker with a non-blocking connect(2),
// trying the addresses in order within the connect timeout; a name that
// must be resolved is resolved and dialled on a goroutine for that one
// connection, which hands the socket back to the worker.
//
// Both sockets of a connection are registered once, edge-triggered. Each
// direction reads into its worker's 256 KiB scratch buffer and writes the
// bytes on at once; only when the destination takes part of them does the
// direction keep the rest in a pooled buffer, and it reads nothing more
// until that is written (back-pressure: a peer that never reads holds at
// most one buffer per direction, and the kernel's socket buffers). A
// direction between TCP or unix sockets whose read returns 64 KiB or more
// is streaming: its next bytes move through a pipe with splice(2), never
// through the worker's memory, until a splice moves less than 16 KiB (the
// empty pipe goes back to the pool then); the pipe holding bytes the
// destination has not taken stops the reads the same way. A stream that
// drains its source keeps its empty pipe for the next burst, and gives it
// back once it has moved nothing for a sweep period (at most 1 s, less
// with shorter timeouts). Pipes (256 KiB, at most 64 per worker, else the
// direction keeps reading and writing) are pooled. AF_VSOCK cannot
// splice(2): vsock directions always read and write. An idle connection
// holds no buffer, no pipe (within two sweep periods of its last bytes)
// and no goroutine: its two sockets and about 600 bytes of state.
// A direction reads at most 16 times per wake-up before the worker turns
// to other connections. End-of-stream is
// propagated as a half-close (shutdown SHUT_WR) in each direction
// independently. A connection that ends in an error (a peer's reset, a
// read or write error, the idle or stall cut, the drain deadline) closes
// its TCP sockets with SO_LINGER {1, 0}, so both peers see a reset, not a
// clean end of stream that an EOF-framed protocol would take for a
// complete message; bytes still queued toward a peer are discarded then.
// The half-close grace running out is no error: the destination had
// finished and everything was relayed, so the client gets a FIN. (The
// goroutine path does the same with SetLinger(0).) TCP urgent data
// (MSG_OOB) is relayed inline, as an ordinary byte in its place in the
// stream: the proxy's TCP sockets set SO_OOBINLINE (one setsockopt each;
// without it read(2) skips the byte); its urgency is lost on the way, as
// through any relay that reads the stream. Deadlines are checked by each worker every eighth of the
// shortest idle, connect or half-close timeout (10 ms to 1 s): a
// connection with no traffic either way for the idle timeout, or whose
// pending bytes have not moved for that long (a peer that stopped
// reading), is closed; so is a client still open half_close_grace after
// the destination finished sending. Traffic is a read, a write that moved
// pending bytes, or a change in a socket's send queue (SIOCOUTQ, sampled
// when the connection has been quiet for an eighth of the idle timeout
// and again before it is cut): a slow but steady reader draining megabytes from
// the kernel's send buffer is not idle. On the goroutine path a write
// blocked on a slow reader looks at its progress four times per idle
// timeout and goes on while bytes move; there the parker's idle sweep
// does not read the send queues. Byte counts reach the metrics at that
// period and when the connection ends. At the drain deadline every worker
// closes its connections, including those still waiting or connecting. A
// panic in a worker (a failed epoll_wait included) is logged with its
// stack and ends the process through Config.Fatal (host-proxy exits 1, a
// runtime failure, and systemd restarts it): a worker serves many
// connections, and recovering per event would cost every event.
//
// On other systems, or with the goroutine path chosen in tests, bytes are
// copied by one goroutine per direction, and only while the direction has
// something to copy: each read(2) runs inside syscall.RawConn's read
// callback, into a pooled 4 KiB buffer taken there (128 KiB while reads
// fill the buffer), so a direction waiting for data holds no buffer. On
// Linux a direction that has read nothing for 25 ms hands its socket to
// one epoll set for the whole proxy (registered level-triggered and
// one-shot, named by a table slot and generation) and its goroutine ends;
// the socket turning readable starts a goroutine again. The idle timeout
// of a connection whose directions are all parked is applied by a
// periodic sweep; the drain deadline's forced close ends parked
// connections too.
//
// Connect and idle timeouts apply per route. A failing destination closes
// only the connection that needed it.
//
// # Credentials
//
// An optional credentials route serves the parent's AWS credentials to the
// enclave as container-credentials JSON on GET /credentials: from IMDSv2 on
// the parent, or from a file or the environment in development. They are
// cached, fetched again [CredentialsConfig].RefreshBefore their expiry, and
// never logged ([Credentials] redacts itself). This replaces passing
// credentials on a command line, where `ps` shows them. Any enclave on the
// parent can connect to a vsock port of the parent, so a vsock credentials
// route needs allowed_cids, the intended enclaves' context IDs (as the
// time and logs routes do; set it on egress routes too: it is optional there,
// for compatibility, and host-proxy's positional form LOCAL_PORT
// REMOTE_HOST REMOTE_PORT, like vsock-proxy, cannot restrict CIDs, so use
// a routes: section to limit an egress route to its enclaves).
//
// The route listens on vsock, or on a unix socket for local tests (mode
// 0600 whatever the umask: only host-proxy's user may connect). A TCP
// address, loopback included, is a configuration error: the enclave
// reaches the parent over vsock only, so a TCP listener would serve no
// enclave but every process on the parent, of any user, one that cannot
// read the credentials file or is kept from IMDS included. In case
// anything forwards a browser's request to the route, every request must
// carry [CredentialsHeader] with the value "1" (a web page cannot send it
// cross-origin without a CORS preflight, which the route never answers),
// name localhost or a loopback address in Host (a DNS-rebinding page names
// its own host), and carry no Origin, Sec-Fetch-* or X-Forwarded-For
// header. Refusals are 403, logged with the reason and counted as
// hostproxy_credentials_requests_total{result="refused"}; a header name
// the reason names is the client's choice, so it is quoted and cut to 64
// bytes (with its full length), in the log and in the answer.
//
// # Time and logs
//
// Two optional routes serve the enclave's boot tasks (package enclave/boot,
// enclave-agent init): time ([Config].Time) answers GET /v1/time with the
// parent's clock as {"unix_nano": N}, which the enclave accepts only within
// a bounded step; logs ([Config].Logs) receives the application's stdout and
// stderr as JSON lines and writes each to the proxy's log with its stream
// (stderr at level WARN), the application's exit status, and the number of
// lines the enclave dropped when the proxy was slow or away
// (hostproxy_enclave_log_dropped_lines_total). Both listen on vsock (with
// allowed_cids), or on a unix socket for local tests, as the credentials
// route does. A TCP address, loopback included, is a configuration error
// (time.listen, logs.listen): the enclave reaches the parent over vsock
// only, so a TCP listener would serve no enclave but every process on the
// parent, of any user, and on the logs route such a process would write
// lines to host-proxy's log (journald) in the enclave application's name.
//
// The time and credentials routes take one small GET at a time, so their
// HTTP servers refuse request headers over 4 KiB (431; net/http reads 4
// KiB of slack), close a connection whose headers take over 5 s or that
// sits idle for 5 s, and give a handler 30 s to answer (a credentials
// refresh is up to three IMDS requests of 5 s): a client cannot hold a
// connection and a megabyte of header buffer, Go's defaults.
//
// The enclave's lines are attacker-controlled text in the proxy's log: the
// slog handler quotes them (newlines, terminal escapes), and a line whose
// quoted form would pass 32 KiB is logged in parts, each with part and
// parts attributes, so that no log line reaches journald's default LineMax
// (48 KiB), past which journald would cut it and log the rest, chosen by
// the enclave, as an entry of host-proxy's own. An exit report whose
// signal name is over 64 bytes is counted invalid. At most
// ServiceConfig.MaxLinesPerSecond enclave lines are written (default
// [DefaultLogLinesPerSecond], a burst of ten seconds' worth), all
// connections together: journald drops every message of a unit past its
// rate limit, so an enclave printing as fast as it can would otherwise
// silence the proxy's own warnings. The rest are dropped, counted as
// hostproxy_enclave_log_lines_total{stream="rate_limited"}, and reported
// in one warning with their number, which takes a line of the budget:
// ahead of the next line that passes, or a second after the first drop
// when none does (and when Serve returns), so the route writes at most
// its budget and one line more. At most 8 connections are served at
// once; a connection refused over that, or ended by an error, is counted
// in hostproxy_connection_errors_total{route="logs"} (a record over 128
// KiB as {stream="invalid"}) and logged as the other routes' refusals are
// (see Operations).
//
// # Operations
//
// Metrics (Prometheus, namespace hostproxy) and /healthz are served on the
// admin address, which must be on localhost:
//
//   - hostproxy_connections_total{route}: connections accepted;
//   - hostproxy_connections_active{route}: connections proxied now, or
//     waiting for a slot;
//   - hostproxy_connection_errors_total{route,reason}: connections that
//     ended in an error (route also time or logs, for those routes'
//     listeners), reason one of limit, dns, not_allowed, dial, idle, copy,
//     shutdown, accept, peer_not_allowed, source_limit;
//   - hostproxy_bytes_total{route,direction}: bytes forwarded, direction
//     in (from the accepting side to the destination) or out;
//   - hostproxy_connect_seconds{route}: from accept to an established
//     destination connection (a histogram);
//   - hostproxy_dns_refused_total{route}: resolved addresses the
//     allow-list refused;
//   - hostproxy_credentials_requests_total{result}: requests to the
//     credentials route, result one of ok, error, refresh_error,
//     peer_not_allowed, refused;
//   - hostproxy_enclave_log_lines_total{stream}: lines received on the
//     logs route, stream one of stdout, stderr, exit, invalid,
//     rate_limited;
//   - hostproxy_enclave_log_dropped_lines_total: lines the enclave
//     reported it dropped;
//   - hostproxy_log_dropped_records_total: host-proxy's own log records
//     dropped (below).
//
// Logs are structured (log/slog). A peer can cause a warning per
// connection or request: a connection refused (allowed_cids,
// max_connections_per_source, max_connections, the logs route's 8), failed (destination unavailable,
// a DNS answer refused), a credentials request refused or failed. Each is
// counted in the metrics, but written to the log at most 5 at once and one
// a second per route and message; the others are reported in one line
// with that message, route, repeated (their number) and since (the first
// of them), a second after the first not written, or ahead of the next
// written (and when Serve returns). Connections churning against a limit
// cannot push host-proxy past journald's rate limit, which would drop its
// other messages too.
//
// When the context given to [Proxy.Serve] is done the proxy stops
// accepting, reports 503 on /healthz, waits up to ShutdownTimeout for
// active connections and then closes those left.
//
// The proxy never waits for its log: a slow sink (journald busy, a stderr
// pipe nobody reads, a full disk behind a redirect) would otherwise stop
// an event worker in write(2), and with it every connection the worker
// serves, on lines a client can provoke (a refused peer, an unreachable
// destination). Every record passes Config.Logger's Enabled check first (a
// debug line costs nothing when debug is off), then goes into one queue of
// at most 4096 records and 4 MiB, in order, written to Config.Logger's
// handler by one goroutine that runs while the queue is not empty. When
// the queue is full, records are dropped and counted
// (hostproxy_log_dropped_records_total), and a warning "log records
// dropped: the log writer was slow" with their number takes their place
// once the writer catches up. [Proxy.Serve] waits up to [LogFlushTimeout]
// for the queue before it returns ([Proxy.FlushLogs] does the same for
// lines logged outside Serve), and a worker's panic is logged after the
// queue, or directly when the queue is not written within that time,
// before the process ends. The handler is called from the writer
// goroutine (and, for that last line, from another), so values it resolves
// late (slog.LogValuer) must be safe to read there.
package proxy
