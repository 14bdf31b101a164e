// Package retention is pipa's retention service (pipa.retention.v1): it makes each unit's
// retention promises (PIPA-21-1, STD-41-2, STD-55) run by themselves and leaves proof that they
// ran. Rules say how long what is kept; items are what gets destroyed; holds stop destruction; a
// periodic sweep destroys what is due (automatic deletion, recorded with its cycle and check time,
// STD-42-2) or proposes a destruction plan the CPO approves (파기요청서); completing a plan
// erases, records and certifies the destruction; copies handed to other bodies are chased until
// they are destroyed or returned (C-9). README.md tells the life of a sweep.
package retention
