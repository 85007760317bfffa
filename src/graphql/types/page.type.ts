import { Field, Int, ObjectType, type ClassType } from 'type-graphql';

/** Relay page info. */
@ObjectType('PageInfo')
export class PageInfoType {
  @Field(() => Boolean) hasNextPage!: boolean;
  @Field(() => Boolean) hasPreviousPage!: boolean;
  @Field(() => String, { nullable: true }) startCursor!: string | null;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

/** Makes the `<Name>Edge` and `<Name>Connection` types for a node type (Relay cursor connections). */
export function connectionOf<T extends object>(node: ClassType<T>, name: string) {
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field(() => String) cursor!: string;
    @Field(() => node) node!: T;
  }
  @ObjectType(`${name}Connection`)
  class Connection {
    @Field(() => [Edge]) edges!: Edge[];
    @Field(() => PageInfoType) pageInfo!: PageInfoType;
    @Field(() => Int) totalCount!: number;
  }
  return Connection;
}
