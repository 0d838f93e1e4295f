import ArgumentParser
import Dispatch
import Foundation
import NIOConcurrencyHelpers
import NIOPosix
import RelayJT1078

/// `relay-bench jt-send`: acts as a JT/T 1078 vehicle terminal. Sends an Annex-B H.264/H.265 file
/// (and optionally G.711, AAC, G.726 or IMA ADPCM audio) as JT/T 1078 packages over TCP, 2016 or
/// 2019 layout, paced in real time; one connection may carry several channels.
struct JTSendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jt-send",
        abstract: "Send a video file (+ audio) as JT/T 1078 over TCP (2016 or 2019 layout), in real time.",
        discussion: SenderMediaOptions.ending + " The server's stream id is {sim}/{channel}. Terminal audio the relay "
            + "transcodes: --audio-codec g726-16|g726-24|g726-32|g726-40 sends a raw G.726 file (ffmpeg -f g726le) in "
            + "--audio-frame-ms chunks as payload type 8; --audio-codec adpcm sends the blocks of an IMA ADPCM WAV file "
            + "(ffmpeg -c:a adpcm_ima_wav) as payload type 26.")

    @OptionGroup var media: SenderMediaOptions

    @Option(help: "Server address.")
    var host: String = "127.0.0.1"

    @Option(help: "Server port.")
    var port: Int = 1078

    @Option(name: .customLong("version"), help: "Header layout: 2016 (6-byte SIM) or 2019 (10-byte SIM).")
    var jtVersion: String = "2016"

    @Option(help: "SIM number (up to 12 digits for 2016, 20 for 2019; zero-padded on the wire).")
    var sim: String = "13912345678"

    @Option(parsing: .singleValue, help: "Logical channel (repeat for several channels on one connection).")
    var channel: [Int] = []

    @Option(help: "Sub-package marks: correct, or all-atomic (as some terminals send them).")
    var marks: String = "correct"

    @Flag(help: "Put the HiSilicon 00 01 xx 00 header before each audio frame, as many terminals do.")
    var hisilicon = false

    @Option(help: "Largest package body in bytes (the standard's limit is 950).")
    var maxBody: Int = 950

    @Option(help: "First timestamp in ms.")
    var timestampStart: UInt64 = 0

    func validate() throws {
        guard JT1078Version(name: jtVersion) != nil else { throw ValidationError("--version must be 2016 or 2019") }
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1...65535") }
        guard channel.allSatisfy({ (0...255).contains($0) }) else { throw ValidationError("--channel must be 0...255") }
        guard JT1078Packetizer.Marks(rawValue: marks) != nil else { throw ValidationError("--marks must be correct or all-atomic") }
        guard (16...65535).contains(maxBody) else { throw ValidationError("--max-body must be 16...65535") }
        if let duration = media.duration, duration <= 0 { throw ValidationError("--duration must be positive") }
    }

    func run() async throws {
        let version = JT1078Version(name: jtVersion)!
        let frames: JT1078SendMedia
        do {
            frames = try JT1078SendMedia.load(video: media.video, codec: media.codec, audio: media.audio,
                                              audioCodec: media.audioCodec, audioFrameMs: media.audioFrameMs)
        } catch {
            throw ValidationError("\(error)")
        }
        let options = JT1078SendOptions(version: version, sim: sim, channels: channel.isEmpty ? [1] : channel.map(UInt8.init),
                                        fps: media.fps, loop: media.loop, duration: media.duration, marks: JT1078Packetizer.Marks(rawValue: marks)!,
                                        hisiliconAudio: hisilicon, maxBody: maxBody, timestampStart: timestampStart)
        _ = try JT1078Schedule(media: frames, options: options)  // a bad SIM fails before connecting

        let stop = StopFlag()
        let signals = stop.watchSignals()
        defer { signals.cancel() }

        let stats = try await withEventLoopGroup(threads: 1) { group in
            try await JT1078Sender.run(media: frames, options: options, host: host, port: port, group: group,
                                       shouldStop: { stop.isSet })
        }
        FileHandle.standardOutput.write(Data((stats.json + "\n").utf8))
    }
}
