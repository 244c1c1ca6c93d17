// expect-error: capture of 'req'
// The pattern that crashed Swift 6.3.1's move checker (signal 11): a handler's borrowed request
// captured by the closure that answers later. It must be a compile error that names `req`.
import Gust

func routes(_ router: Router) {
    router.get("/hello/:name") { req, res in
        res.respond(after: .milliseconds(10)) { res in
            res.send(.ok, "hello \(req.parameter("name") ?? "")")
        }
    }
}
