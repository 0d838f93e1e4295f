import RelayCore

/// The process section of the admin API and /metrics: this process's CPU and memory.
typealias ProcStats = ProcStat
