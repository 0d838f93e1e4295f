/// Several hook families answering together: the native hooks and a dialect's (RelayZLM's),
/// each with its own URLs. Notifications go to every family that has a hook for the event. A
/// decision asks every such family at once and allows only if all allow; their answers merge
/// (the first family's fields win, and a timeout is kept if any family keeps it).
public struct EventHooksChain: EventHooks {
    public let members: [any EventHooks]

    public init(_ members: [any EventHooks]) {
        self.members = members
    }

    public func isConfigured(_ event: HookEvent) -> Bool {
        members.contains { $0.isConfigured(event) }
    }

    public func authorize(_ event: HookEvent, stream: String, session: SessionInfo,
                          extra: [String: JSONValue]) async -> HookDecision {
        let asked = members.filter { $0.isConfigured(event) }
        guard asked.count > 1 else {
            return await asked.first?.authorize(event, stream: stream, session: session, extra: extra) ?? .notConfigured
        }
        let decisions = await withTaskGroup(of: (Int, HookDecision).self) { group in
            for (i, member) in asked.enumerated() {
                group.addTask { (i, await member.authorize(event, stream: stream, session: session, extra: extra)) }
            }
            var out: [(Int, HookDecision)] = []
            for await d in group { out.append(d) }
            return out.sorted { $0.0 < $1.0 }.map(\.1)
        }
        return Self.merge(decisions)
    }

    public func notify(_ event: HookEvent, stream: String?, session: SessionInfo?, extra: [String: JSONValue]) {
        for member in members where member.isConfigured(event) {
            member.notify(event, stream: stream, session: session, extra: extra)
        }
    }

    /// All allow or the first denial; answers merged, `keep` if any keeps.
    static func merge(_ decisions: [HookDecision]) -> HookDecision {
        guard let first = decisions.first else { return .notConfigured }
        if let denied = decisions.first(where: { !$0.allowed }) { return denied }
        var answer: [String: JSONValue] = [:]
        for d in decisions {
            guard case .object(let fields)? = d.answer else { continue }
            answer.merge(fields) { kept, _ in kept }
        }
        if decisions.contains(where: \.keep) { answer["keep"] = .bool(true) }
        return HookDecision(allowed: true, status: first.status, reason: first.reason,
                            answer: answer.isEmpty && first.answer == nil ? nil : .object(answer))
    }
}
