import Gust
import GustTesting
import ItemsAPI
import Testing

/// The example API, tested in process with the harness (real engine, no port).
@Suite("Items API example")
struct ItemsAPITests {
    let auth: HTTPFields = [.authorization: "Bearer let-me-in", .contentType: "application/json"]

    func create(_ app: TestApp, _ json: String) async throws -> TestResponse {
        try await app.execute(.post, "/items", headerFields: auth, body: Array(json.utf8))
    }

    @Test("create, read, list and delete")
    func lifecycle() async throws {
        let app = try TestApp(router: ItemsApp.makeRouter())
        let created = try await create(app, #"{"name": " lamp ", "priceCents": 1999, "tags": ["home"]}"#)
        #expect(created.status == .created)
        let item = try created.decode(as: Item.self)
        #expect(item == Item(id: 1, name: "lamp", priceCents: 1999, tags: ["home"]))
        #expect(created.headerFields[.location] == "/items/1")
        #expect(created.headerFields[HTTPField.Name("X-Request-Id")!] != nil)
        _ = try await create(app, #"{"name": "desk", "priceCents": 25000}"#)

        let one = try await app.execute(.get, "/items/1")
        #expect(try one.decode(as: Item.self).name == "lamp")
        let list = try await app.execute(.get, "/items?after=0&limit=10")
        #expect(try list.decode(as: [Item].self).map(\.name) == ["lamp", "desk"])
        let page = try await app.execute(.get, "/items?after=1")
        #expect(try page.decode(as: [Item].self).map(\.id) == [2])

        #expect(try await app.execute(.delete, "/items/1", headerFields: auth).status == .noContent)
        #expect(try await app.execute(.get, "/items/1").status == .notFound)
        #expect(try await app.execute(.delete, "/items/1", headerFields: auth).status == .notFound)
    }

    @Test("validation: 422 naming every problem, 400 for malformed JSON or ids, 415 without JSON")
    func validation() async throws {
        let app = try TestApp(router: ItemsApp.makeRouter())
        let invalid = try await create(app, #"{"name": "  ", "priceCents": -5}"#)
        #expect(invalid.status == .unprocessableContent)
        #expect(invalid.text == "name must not be empty; priceCents must not be negative\n")
        #expect(try await create(app, #"{"name": "x""#).status == .badRequest)
        let wrongType = try await create(app, #"{"name": "x", "priceCents": "cheap"}"#)
        #expect(wrongType.status == .badRequest)
        #expect(wrongType.text == "invalid JSON body: priceCents: expected Int\n")
        var textFields = auth
        textFields[.contentType] = "text/plain"
        #expect(try await app.execute(.post, "/items", headerFields: textFields, body: Array("{}".utf8)).status == .unsupportedMediaType)
        #expect(try await app.execute(.get, "/items/zero").status == .badRequest)
        #expect(try await app.execute(.get, "/items?limit=0").status == .badRequest)
    }

    @Test("changes need the bearer token; reads do not")
    func authorization() async throws {
        let app = try TestApp(router: ItemsApp.makeRouter())
        let refused = try await app.execute(.post, "/items", headerFields: [.contentType: "application/json"], body: Array(#"{"name":"a","priceCents":1}"#.utf8))
        #expect(refused.status == .unauthorized)
        #expect(refused.headerFields[.wwwAuthenticate] == "Bearer")
        #expect(try await app.execute(.get, "/items").status == .ok)
    }

    @Test("the stamp is computed on the blocking-work pool and checks out")
    func stamp() async throws {
        let app = try TestApp(router: ItemsApp.makeRouter())
        _ = try await create(app, #"{"name": "lamp", "priceCents": 1}"#)
        let response = try await app.execute(.get, "/items/1/stamp?bits=10")
        #expect(response.status == .ok)
        let stamp = try response.decode(as: Stamp.self)
        #expect(Stamp.hash("1:lamp", stamp.nonce).leadingZeroBitCount >= 10)
        #expect(try await app.execute(.get, "/items/1/stamp?bits=99").status == .badRequest)
        #expect(try await app.execute(.get, "/items/9/stamp").status == .notFound)
    }

    @Test("concurrent clients see one consistent store (the actor)")
    func concurrent() async throws {
        let app = try TestApp(router: ItemsApp.makeRouter(), configure: { $0.reactors = 2 })
        try await withThrowingTaskGroup(of: Void.self) { group in
            for k in 0..<20 {
                group.addTask { _ = try await create(app, #"{"name": "item \#(k)", "priceCents": \#(k)}"#) }
            }
            try await group.waitForAll()
        }
        let all = try await app.execute(.get, "/items?limit=100").decode(as: [Item].self)
        #expect(all.map(\.id) == Array(1...20))
        #expect(Set(all.map(\.name)).count == 20)
    }

    @Test("the same app on a live port")
    func live() async throws {
        let app = try TestApp(router: ItemsApp.makeRouter(), transport: .live)
        #expect(app.port != nil)
        #expect(try await create(app, #"{"name": "lamp", "priceCents": 1}"#).status == .created)
        #expect(try await app.execute(.get, "/items/1").status == .ok)
    }
}
