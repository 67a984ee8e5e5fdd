#[tars_rpc::tars_push]
trait Push {
    async fn twice(&self, ret: i32, first: &PushMessage, second: &PushMessage);

    async fn mutable(&self, push: &mut PushMessage);

    async fn named(&self, #[tars(name = "push")] push: &PushMessage);
}

fn main() {}
