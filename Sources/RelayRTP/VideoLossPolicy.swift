/// Where video resumes after RTP packets were lost (`gb28181.loss_policy`).
public enum VideoLossPolicy: String, Sendable, CaseIterable {
    /// Only the damaged frame is dropped; the next complete frame goes out and decoders conceal
    /// the missing reference (brief artefacts instead of a frozen picture).
    case nextFrame = "next_frame"
    /// Video is dropped until the next key frame (a freeze instead of artefacts).
    case nextKeyFrame = "next_key_frame"
}
