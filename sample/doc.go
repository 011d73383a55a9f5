// Package sample provides directory data for idsync's demo, tests and
// benchmarks: Generate writes a realistic, deterministic directory of any
// size as LDIF, and Demo embeds the two small, fixed forests of the
// demo (contoso.test and fabrikam.test).
package sample
