#[tars_rpc::tars_push]
trait Push {
    #[tars(on_close)]
    async fn closed(&self, current: &tars_rpc::Current);
}

fn main() {}
