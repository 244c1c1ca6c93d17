// expect-ok
// The fix the diagnostic leads to: copy what the later answer needs.
import Gust

func routes(_ router: Router) {
    router.get("/hello/:name") { req, res in
        let name = req.parameter("name") ?? ""
        res.respond(after: .milliseconds(10)) { res in
            res.send("hello \(name)")
        }
    }
}
