// SPDX-License-Identifier: Apache-2.0

// Package cli is what the four enclavekit commands (nitro-verify,
// enclave-agent, host-proxy, kms-server) share so that they behave as one
// product, in the style of filippo.io/age's command:
//
//   - [Version]: the build's version, read once from the build information,
//     printed by "NAME version" and "NAME --version" as "NAME VERSION";
//   - [Program.Errorf], [Program.Hintf] and [Program.Fail]: "NAME: error: …"
//     and "NAME: hint: …" on standard error;
//   - the exit status convention: [ExitOK], [ExitFailure] (for nitro-verify:
//     rejected), [ExitUsage];
//   - [UsageError] and [Usagef] for command-line mistakes, [WithHint] for an
//     error that knows what would fix it;
//   - [ParseLogLevel]: one set of --log-level words and one error for a bad
//     one;
//   - [IsHelp] and [IsVersion]: "--help", "-h" and "help"; "--version" and
//     "version"; [HelpArg]: the same words as a subcommand's first
//     argument ("NAME SUB help"), as [ErrHelp] and [ErrVersion], which
//     [Program.Exit] prints; [Program.UsageHint]: "run NAME SUB --help for
//     usage".
//   - [ParseFlags]: the flag package's parsing with the commands' own
//     messages ("unknown flag --bogus", `--max-age "abc": want a duration
//     such as 5m`), names written as [FlagName] writes them;
//   - [TrimPrefixes]: library errors shown without their Go package
//     prefixes ("attestation: ", "kmsserver: ").
//
// Package clitest beside it registers the script commands the commands'
// testscript tests share, and checks every subcommand of a command against
// that contract (help, version, an unknown flag).
package cli
