#[tars_rpc::tars_push]
trait Push {
    fn push_msg(&self, ret: i32);
}

fn main() {}
