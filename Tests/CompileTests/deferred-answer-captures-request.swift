// expect-error: capture of 'req'
// A deferred answer from another thread cannot take the borrowed request either.
import Gust

func routes(_ router: Router) {
    router.get("/later") { req, res in
        let later = res.deferResponse()
        later.respond { res in res.send(.ok, req.path) }
    }
}
