// Package slurm launches lvsperf agents with Slurm: it renders the batch
// script that runs the coordinator on the job's first node and one agent
// per node with srun. Slurm places and starts every process; lvsperf never
// logs into a host. The package's tests run a real Slurm (slurmctld and
// one slurmd per network-namespace host, munge on the host) and submit the
// script to it.
package slurm
