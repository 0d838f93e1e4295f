/// The version and build the admin API reports (`GET /api/v1/server`, the dialect's `version`).
public enum RelayVersion {
    public static let version = "0.1.0"
    #if DEBUG
    public static let configuration = "debug"
    #else
    public static let configuration = "release"
    #endif
}
