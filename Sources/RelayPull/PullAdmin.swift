import RelayCore

/// `/api/v1/pulls`: add (201 + the pull), list, get, delete.
struct PullAdmin: Sendable {
    let manager: PullManager

    var endpoints: [AdminEndpoint] {
        [
            AdminEndpoint(.post, "/api/v1/pulls") { try await add($0) },
            AdminEndpoint(.get, "/api/v1/pulls") { _ in AdminReply(manager.snapshots) },
            AdminEndpoint(.get, "/api/v1/pulls/{stream}") { request in
                let stream = try request.stream()
                guard let snapshot = manager.snapshot(stream) else { throw AdminFailure.notFound("no pull of \(stream)") }
                return AdminReply(snapshot)
            },
            AdminEndpoint(.delete, "/api/v1/pulls/{stream}") { request in
                let stream = try request.stream()
                guard manager.remove(stream, reason: "deleted through the admin API") else {
                    throw AdminFailure.notFound("no pull of \(stream)")
                }
                request.logger.info("admin API removed the pull of \(stream)")
                return AdminReply(PullRemoved(stream: stream, removed: true))
            },
        ]
    }

    private func add(_ request: AdminRequest) async throws -> AdminReply {
        guard manager.config.enabled else { throw AdminFailure(PullError.disabled.status, PullError.disabled.description) }
        guard let body = try await request.body() else {
            throw AdminFailure.badRequest("a JSON body is required: {\"stream\", \"url\", \"transport\", \"on_demand\"}")
        }
        let spec = try Self.spec(body)
        do throws(PullError) {
            let snapshot = try manager.add(spec)
            request.logger.info("admin API added a pull of \(spec.stream)")
            return AdminReply(status: 201, snapshot)
        } catch {
            throw AdminFailure(error.status, error.description)
        }
    }

    /// The body's fields, checked like a `pull.pulls` entry (unknown keys refused).
    static func spec(_ body: [String: JSONValue]) throws(AdminFailure) -> PullSpec {
        do {
            var reader = ConfigReader(body, path: "")
            let spec = try PullSpec(reading: &reader)
            try reader.rejectUnknownKeys()
            return spec
        } catch let error as ConfigError {
            throw .badRequest("\(error.field): \(error.message)")
        } catch {
            throw .badRequest("\(error)")
        }
    }
}

struct PullRemoved: Encodable, Sendable {
    let stream: String
    let removed: Bool
}
