@testable import RelayRTSP
import Testing

/// Digest and Basic answers of the pull client, against the RFCs' worked examples.
@Suite struct RTSPClientAuthTests {
    func authorization(_ challenge: String, user: String = "Mufasa", password: String, cnonce: String,
                       method: String = "GET", uri: String = "/dir/index.html") -> String? {
        var auth = RTSPAuthenticator(user: user, password: password, cnonce: { cnonce })
        guard auth.accept(RTSPAuthChallenge.parse([challenge])) else { return nil }
        return auth.authorization(method: method, uri: uri)
    }

    @Test func rfc2617WorkedExample() throws {
        let header = try #require(authorization(
            #"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
            password: "Circle Of Life", cnonce: "0a4f113b"))
        #expect(header.contains(#"response="6629fae49393a05397450978507c4ef1""#))
        #expect(header.contains("qop=auth, nc=00000001, cnonce=\"0a4f113b\""))
        #expect(header.contains(#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#))
        #expect(header.contains(#"username="Mufasa""#) && header.contains(#"uri="/dir/index.html""#))
    }

    @Test func rfc7616WorkedExamplesMD5AndSHA256() throws {
        let params = #"realm="http-auth@example.org", qop="auth, auth-int", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
        let md5 = try #require(authorization("Digest algorithm=MD5, " + params, password: "Circle of Life", cnonce: cnonce))
        #expect(md5.contains(#"response="8ca523f5e9506fed4657c9700eebdbec""#))
        let sha = try #require(authorization("Digest algorithm=SHA-256, " + params, password: "Circle of Life", cnonce: cnonce))
        #expect(sha.contains(#"response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1""#))
        #expect(sha.contains("algorithm=SHA-256"))
        // Offered both (as RFC 7616's example server does): SHA-256 is taken.
        var auth = RTSPAuthenticator(user: "Mufasa", password: "Circle of Life", cnonce: { cnonce })
        let accepted = auth.accept(RTSPAuthChallenge.parse(["Digest algorithm=MD5, " + params, "Digest algorithm=SHA-256, " + params]))
        let both = auth.authorization(method: "GET", uri: "/dir/index.html")
        #expect(accepted && both == sha)
    }

    @Test func digestWithoutQopAndCountingNonces() throws {
        var auth = RTSPAuthenticator(user: "u", password: "p", cnonce: { "c" })
        let accepted = auth.accept(RTSPAuthChallenge.parse([#"Digest realm="GStreamer RTSP Server", nonce="ab52080bec36ce26""#]))
        #expect(accepted)
        let answer = auth.authorization(method: "DESCRIBE", uri: "rtsp://127.0.0.1:8554/cam")
        let header = try #require(answer)
        let ha1 = RTSPAuthenticator.md5("u:GStreamer RTSP Server:p")
        let ha2 = RTSPAuthenticator.md5("DESCRIBE:rtsp://127.0.0.1:8554/cam")
        #expect(header.contains("response=\"\(RTSPAuthenticator.md5("\(ha1):ab52080bec36ce26:\(ha2)"))\""))
        #expect(!header.contains("qop") && !header.contains("nc="))
        #expect(RTSPAuthenticator.md5("") == "d41d8cd98f00b204e9800998ecf8427e")

        var counted = RTSPAuthenticator(user: "u", password: "p", cnonce: { "c" })
        _ = counted.accept(RTSPAuthChallenge.parse([#"Digest realm="r", nonce="n", qop="auth""#]))
        _ = counted.authorization(method: "SETUP", uri: "rtsp://h/a")
        let second = counted.authorization(method: "PLAY", uri: "rtsp://h/a")
        #expect(second?.contains("nc=00000002") == true)
    }

    @Test func basicWhenNoDigestAndNothingForUnknownSchemes() {
        #expect(authorization(#"Basic realm="cam""#, user: "u", password: "p", cnonce: "") == "Basic dTpw")
        #expect(authorization(#"Digest realm="r", nonce="n", algorithm=SHA-512-256"#, password: "p", cnonce: "") == nil)
        #expect(authorization(#"Digest realm="r", nonce="n", qop="auth-int""#, password: "p", cnonce: "") == nil)
        #expect(authorization(#"Negotiate abc=="#, password: "p", cnonce: "") == nil)
        #expect(authorization(#"Digest nonce="n""#, password: "p", cnonce: "") == nil)  // no realm
    }

    @Test func wwwAuthenticateWithSeveralChallengesAndQuotedCommas() {
        let one = #"Digest realm="a, \"b\"", nonce="x,y", qop="auth,auth-int", stale=FALSE, Basic realm="cam, 1""#
        let parsed = RTSPAuthChallenge.parse([one, "Negotiate"])
        #expect(parsed == [
            RTSPAuthChallenge(scheme: "Digest", parameters: ["realm": #"a, "b""#, "nonce": "x,y", "qop": "auth,auth-int", "stale": "FALSE"]),
            RTSPAuthChallenge(scheme: "Basic", parameters: ["realm": "cam, 1"]),
            RTSPAuthChallenge(scheme: "Negotiate", parameters: [:]),
        ])
        // Garbage never traps and yields nothing usable.
        for junk in ["", ",,,", "=\"", "\"unterminated", "Digest realm=\"x", String(repeating: "a=b,", count: 5000)] {
            _ = RTSPAuthChallenge.parse([junk])
        }
        #expect(RTSPAuthChallenge.parse(Array(repeating: "Basic, Basic, Basic", count: 40)).count == 16)
    }

    @Test func controlCharactersOfACameraNeverReachTheHeader() throws {
        let header = try #require(authorization("Digest realm=\"r\rInjected: 1\", nonce=\"n\"", password: "p", cnonce: "c"))
        #expect(!header.contains("\r") && header.contains(#"realm="rInjected: 1""#))
    }
}
