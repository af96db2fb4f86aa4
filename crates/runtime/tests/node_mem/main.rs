//! A whole node (2 workers + the control thread, stepped by hand) on the in-memory wire with a
//! virtual clock, against a scripted peer: duplicate address detection and conflicts, ARP
//! resolution with retries and failure, pending-queue overflow, cache aging at 2 and 10
//! minutes, and an ARP answer received by one worker releasing packets another queued.

mod arp;
mod ctl;
mod ip;
mod lab;
