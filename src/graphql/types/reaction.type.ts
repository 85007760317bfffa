import { Field, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from '../scalars';
import { connectionOf } from './page.type';

/** Contract type ReactionSummary (issue 31). The source object is a ReactionSummaryView. */
@ObjectType('ReactionSummary')
export class ReactionSummaryType {
  @Field(() => String, { description: 'One Unicode emoji (skin tones and ZWJ sequences included)' }) emoji!: string;
  @Field(() => Int, { description: 'Distinct users who reacted with it' }) count!: number;
}

/** Contract type Reaction. The source object is a ReactionView. */
@ObjectType('Reaction')
export class ReactionType {
  @Field(() => String) emoji!: string;
  @Field(() => DateTimeScalar) createdAt!: string;
}

export const ReactionConnection = connectionOf(ReactionType, 'Reaction');
