// expect-ok
// Or the async tier, whose request is owned: it may be used after any await.
import Gust

func routes(_ router: Router) {
    router.get("/hello/:name") { req in
        try await Task.sleep(for: .milliseconds(10))
        return .text("hello \(req.parameter("name") ?? "")")
    }
}
